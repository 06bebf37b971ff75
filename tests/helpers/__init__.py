"""Helpers shared by several test modules (sample data, mini mirrors, the headless browser, a full rebuild, scripted loopback servers)."""
