"""Shared fixtures. Mirror and golden files are required: missing ones fail loudly, never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT, Settings

SHARED = PROJECT_ROOT.parent / "shared"

pytest_plugins = ["tests.helpers.browser"]  # the `browser` fixture (catalog and map tests)


def _required_dir(env: str, default: Path, marker: str) -> Path:
    path = Path(os.environ.get(env) or default)
    if not (path / marker).exists():
        pytest.fail(
            f"required test data missing: {path / marker} (set {env} or put shared/ beside the repo)",
            pytrace=False,
        )
    return path


_RUN_ENV = (
    "OBSERVATORY_OFFLINE", "OBSERVATORY_WAREHOUSE", "OBSERVATORY_CBP_YEARS", "OBSERVATORY_CBP_GEOS",
    "OBSERVATORY_REGION_GROUPS", "OBSERVATORY_EUROSTAT", "OBSERVATORY_WEBHOOK_URL", "CENSUS_API_KEY",
    "OBSERVATORY_DUCKDB_MEMORY_LIMIT", "OBSERVATORY_EU_FIXED_REFERENCE", "OBSERVATORY_MAX_SHRINK",
    "OBSERVATORY_HTTP_RETRY_AFTER_MAX", "OBSERVATORY_HTTP_DEADLINE",
    "OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", "OBSERVATORY_MAX_UNCOMPRESSED", "OBSERVATORY_MAX_COMPRESSION_RATIO",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests say what they run on: the caller's run settings (e.g. make's OFFLINE=1) never leak in."""
    for name in _RUN_ENV:
        monkeypatch.delenv(name, raising=False)
    # No mirror unless a test names one (unset would mean ../shared/mirror, offline: config.resolve_mirror).
    monkeypatch.setenv("OBSERVATORY_MIRROR", "")


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    return _required_dir("OBSERVATORY_MIRROR", SHARED / "mirror", "index.json")


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return _required_dir("OBSERVATORY_GOLDEN", SHARED / "golden", "cmp_2016_states_clusters.csv")


@pytest.fixture
def settings(tmp_path: Path, mirror_dir: Path) -> Settings:
    """Settings with a private warehouse and the shared mirror."""
    return Settings(warehouse=tmp_path / "warehouse", mirror=mirror_dir, offline=True)


@pytest.fixture
def upstream_settings(tmp_path: Path) -> Settings:
    """Settings with no mirror: downloads go to the URL given (a local test server)."""
    return Settings(warehouse=tmp_path / "warehouse", mirror=None)
