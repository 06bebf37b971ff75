"""Issue 22: `make ui` runs Dagster 1.13's `dg dev` (not the superseded `dagster dev`) on a port
of the user's choosing, loopback by default; the venv sync is quiet (no package list)."""

from __future__ import annotations

import subprocess

from pipelines.config import PROJECT_ROOT


def _dry_run(*args: str) -> str:
    out = subprocess.run(["make", "-n", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return out.stdout


def test_make_ui_runs_dg_dev_on_the_chosen_port() -> None:
    default = _dry_run("ui")
    assert "dg dev --port 3000 --host 127.0.0.1" in default and "dagster dev" not in default
    assert "dg dev --port 3999 --host 0.0.0.0" in _dry_run("ui", "UI_PORT=3999", "UI_HOST=0.0.0.0")


def test_venv_sync_is_quiet() -> None:
    text = (PROJECT_ROOT / "Makefile").read_text()
    sync = [ln for ln in text.splitlines() if " sync " in ln and "$(UV)" in ln]
    assert sync and all("--quiet" in ln for ln in sync), sync
    assert "--disable-pip-version-check" in text
