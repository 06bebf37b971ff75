"""One module per upstream source: URLs, formats, content checks and parsers. No settings, paths,
fetching or writes (raw/ fetches, staging/ writes), and no Dagster."""
