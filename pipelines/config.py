"""Runtime settings, read from the environment so Dagster, the CLI and tests agree on paths."""

from __future__ import annotations

import datetime
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
ASSETS_DIR = PROJECT_ROOT / "assets"


def _default_warehouse() -> Path:
    return PROJECT_ROOT / "warehouse"


DEFAULT_MIRROR = PROJECT_ROOT.parent / "shared" / "mirror"  # used when it has an index.json
MIRROR_ENV = "OBSERVATORY_MIRROR"
OFFLINE_ENV = "OBSERVATORY_OFFLINE"


def resolve_mirror(env: Mapping[str, str] | None = None) -> tuple[Path | None, bool]:
    """The one mirror rule (the CLI, Dagster and `make run` all go through it): OBSERVATORY_MIRROR
    unset → ../shared/mirror when its index.json exists; set but empty → no mirror; else that
    folder. OBSERVATORY_OFFLINE unset → offline exactly when the default mirror is used (what it
    lacks is skipped or an error, never a silent retry upstream). Returns (mirror, offline)."""
    env = os.environ if env is None else env
    raw = env.get(MIRROR_ENV)
    if raw is None:
        mirror = DEFAULT_MIRROR.resolve() if (DEFAULT_MIRROR / "index.json").is_file() else None
        default_used = mirror is not None
    else:
        mirror = Path(raw).expanduser().resolve() if raw.strip() else None
        default_used = False
    off = env.get(OFFLINE_ENV)
    offline = default_used if off is None or not off.strip() else off.strip().lower() in {"1", "true", "yes"}
    return mirror, offline


FIRST_CBP_YEAR = 1998  # the first NAICS-based County Business Patterns year
_YEAR_PART = re.compile(r"^(\d{4})(?:-(\d{4}))?$")


def last_cbp_year() -> int:
    """The latest year CBP can have been published for (it appears about 18 months later)."""
    return datetime.date.today().year - 1


def parse_years(spec: str) -> list[int]:
    """Parse "2000-2011,2015" into a sorted list of years; anything else is one clear error
    ("00-11", "2011-2000", "abc", years before 1998 or after last year)."""
    years: set[int] = set()
    hi_ok = last_cbp_year()
    form = f"use YYYY, YYYY-YYYY or a comma list of them, years {FIRST_CBP_YEAR}–{hi_ok} (e.g. 2000-2011)"
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        m = _YEAR_PART.match(part)
        if not m:
            raise ValueError(f"CBP years {spec!r}: {part!r} is not a year or a range; {form}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi:
            raise ValueError(f"CBP years {spec!r}: range {part!r} runs backwards; {form}")
        if lo < FIRST_CBP_YEAR or hi > hi_ok:
            raise ValueError(f"CBP years {spec!r}: {part!r} is outside the available years; {form}")
        years.update(range(lo, hi + 1))
    if not years:
        raise ValueError(f"CBP years {spec!r}: no year given; {form}")
    return sorted(years)


CBP_GEOS = ("state", "county", "msa", "us")


def parse_geos(spec: str) -> tuple[str, ...]:
    """Parse "state,us" into a tuple of CBP geographies, rejecting unknown names."""
    geos = tuple(g.strip().lower() for g in spec.split(",") if g.strip())
    bad = [g for g in geos if g not in CBP_GEOS]
    if bad or not geos:
        raise ValueError(f"unknown CBP geographies {bad or spec!r}; choose from {CBP_GEOS}")
    return geos


# HTTP limits: a Retry-After longer than this fails instead of sleeping; a download whose body
# takes longer than the deadline fails (a server dripping bytes never times out a single read).
DEFAULT_RETRY_AFTER_MAX = 300.0
DEFAULT_HTTP_DEADLINE = 1800.0
# A server that takes the connection and never answers: the first byte of the response must come
# within this many seconds from the request, retries included (the body deadline starts after it).
DEFAULT_HTTP_FIRST_BYTE_TIMEOUT = 120.0
# Decompression bounds per zip member, gzip file or gzip-encoded HTTP body. The largest real input
# is a CBP county member of a few hundred MB; real members inflate a few times (the mirror's CBP
# state members 5.1-5.2x, the Eurostat TSV 3.6x); deflate tops out near 1030x, which a file of
# zeros reaches. 4 GiB and 200x are ten and forty times above real files, and far below what took
# the host down (a 2 MB zip of 2 GiB of zeros: 24 GB of RAM).
DEFAULT_MAX_UNCOMPRESSED = 4 << 30
DEFAULT_MAX_COMPRESSION_RATIO = 200.0


@dataclass(frozen=True)
class DecompressionLimits:
    """How far one compressed member may inflate: `max_bytes` in all, and `max_ratio` times its
    compressed size (checked once the output passes `ratio_floor`, so tiny files never trip it)."""

    max_bytes: int = DEFAULT_MAX_UNCOMPRESSED
    max_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO
    ratio_floor: int = 1 << 20


_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
_UNITS = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}  # fmt: skip


def _bytes(name: str, default: int) -> int:
    """A size setting: bytes, or a number with a unit (500MB, 4GiB)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    m = _SIZE.match(raw)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{name} must be a positive size such as 4GiB or 500MB, got {raw!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _number(name: str, default: float, wanted: str, too_small: Callable[[float], bool], bound: str) -> float:
    """A numeric setting: blank is the default; not a number, or `too_small`, names the variable,
    what it wants (`wanted`, `bound`) and the value given."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be {wanted}, got {raw!r}") from None
    if not math.isfinite(value):  # NaN passes every bound below; inf is no limit at all
        raise ValueError(f"{name} must be {wanted}, got {raw!r}")
    if too_small(value):
        raise ValueError(f"{name} must be {bound}, got {raw!r}")
    return value


def _ratio(name: str, default: float) -> float:
    return _number(name, default, "a number (uncompressed / compressed bytes)", lambda v: v < 1, "at least 1")


def _seconds(name: str, default: float) -> float:
    return _number(name, default, "a number of seconds", lambda v: v <= 0, "positive")


_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


DEFAULT_MAX_SHRINK = 0.2


def _max_shrink(value: str | None) -> float:
    if not value:
        return DEFAULT_MAX_SHRINK
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"OBSERVATORY_MAX_SHRINK must be a share between 0 and 1, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes; one instance per process, built from env vars."""

    warehouse: Path = field(default_factory=_default_warehouse)
    mirror: Path | None = None
    cbp_years: tuple[int, ...] = tuple(range(2000, 2012))
    offline: bool = False
    # CBP files per year: "state" (default), "county", "msa", "us" (national rows → LQ reference).
    cbp_geos: tuple[str, ...] = ("state",)
    # User-defined regions (YAML, see assets/region_groups.example.yaml); None = none.
    region_groups: Path | None = None
    # Eurostat regional SBS (the European side) in every refresh.
    eurostat: bool = True
    # European reference fixed to the countries present in every year (stars and growth compare
    # over time); False: the countries present in each year.
    eu_fixed_reference: bool = False
    # DuckDB's memory cap for the warehouse: beyond it, joins, aggregates and sorts spill to
    # disk (observatory.duckdb.tmp) instead of growing with the years processed.
    duckdb_memory_limit: str = "3.5GB"
    # `observatory releases push s3://…`: S3-compatible endpoint (MinIO, R2 …); None = AWS or AWS_ENDPOINT_URL_S3.
    s3_endpoint_url: str | None = None
    # Blocking completeness check: a CBP year × geography whose rows or employment fall by more
    # than this share against the previous release stops the release (sql/checks/shrink_vs_previous.sql).
    max_shrink: float = DEFAULT_MAX_SHRINK
    # Longest Retry-After (seconds) honoured by sleeping; beyond it the download fails.
    http_retry_after_max: float = DEFAULT_RETRY_AFTER_MAX
    # Overall time (seconds) one download's body may take.
    http_deadline: float = DEFAULT_HTTP_DEADLINE
    # Seconds from the request to the response's first byte, retries included (a dead server).
    http_first_byte_timeout: float = DEFAULT_HTTP_FIRST_BYTE_TIMEOUT
    # Decompression bounds per zip member / gzip file / gzip-encoded body (zip bombs).
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO
    # Publish a release that covers fewer CBP years, geographies or sources than the latest one
    # (`observatory run/refresh --allow-narrower`; never from the environment: it is a one-off).
    allow_narrower: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_shrink <= 1:
            raise ValueError(f"OBSERVATORY_MAX_SHRINK must be a share between 0 and 1, got {self.max_shrink!r}")
        if not _MEMORY.match(self.duckdb_memory_limit):
            raise ValueError(
                f"OBSERVATORY_DUCKDB_MEMORY_LIMIT must look like 3GB or 512MB, got {self.duckdb_memory_limit!r}"
            )

    @property
    def decompression_limits(self) -> DecompressionLimits:
        return DecompressionLimits(self.max_uncompressed, self.max_compression_ratio)

    @property
    def raw_dir(self) -> Path:
        return self.warehouse / "raw"

    @property
    def staging_dir(self) -> Path:
        return self.warehouse / "staging"

    @property
    def releases_dir(self) -> Path:
        return self.warehouse / "releases"

    @property
    def duckdb_path(self) -> Path:
        return self.warehouse / "observatory.duckdb"

    @classmethod
    def from_env(cls) -> Settings:
        wh = os.environ.get("OBSERVATORY_WAREHOUSE")
        mirror, offline = resolve_mirror()
        years = os.environ.get("OBSERVATORY_CBP_YEARS")
        geos = os.environ.get("OBSERVATORY_CBP_GEOS")
        groups = os.environ.get("OBSERVATORY_REGION_GROUPS")
        if groups is None:
            groups = str(ASSETS_DIR / "region_groups.yaml")
        return cls(
            warehouse=Path(wh).resolve() if wh else _default_warehouse(),
            mirror=mirror,
            cbp_years=tuple(parse_years(years)) if years else tuple(range(2000, 2012)),
            offline=offline,
            cbp_geos=parse_geos(geos) if geos else ("state",),
            region_groups=Path(groups).resolve() if groups.strip() else None,
            eurostat=os.environ.get("OBSERVATORY_EUROSTAT", "1").lower() not in {"0", "false", "no"},
            duckdb_memory_limit=os.environ.get("OBSERVATORY_DUCKDB_MEMORY_LIMIT") or "3.5GB",
            s3_endpoint_url=os.environ.get("OBSERVATORY_S3_ENDPOINT_URL") or None,
            eu_fixed_reference=os.environ.get("OBSERVATORY_EU_FIXED_REFERENCE", "0").lower() in {"1", "true", "yes"},
            max_shrink=_max_shrink(os.environ.get("OBSERVATORY_MAX_SHRINK")),
            http_retry_after_max=_seconds("OBSERVATORY_HTTP_RETRY_AFTER_MAX", DEFAULT_RETRY_AFTER_MAX),
            http_deadline=_seconds("OBSERVATORY_HTTP_DEADLINE", DEFAULT_HTTP_DEADLINE),
            http_first_byte_timeout=_seconds("OBSERVATORY_HTTP_FIRST_BYTE_TIMEOUT", DEFAULT_HTTP_FIRST_BYTE_TIMEOUT),
            max_uncompressed=_bytes("OBSERVATORY_MAX_UNCOMPRESSED", DEFAULT_MAX_UNCOMPRESSED),
            max_compression_ratio=_ratio("OBSERVATORY_MAX_COMPRESSION_RATIO", DEFAULT_MAX_COMPRESSION_RATIO),
        )


def settings() -> Settings:
    return Settings.from_env()


# Process switches: read here like every other variable, but kept out of Settings because they
# concern the console, credentials and the Dagster instance rather than the data a run builds.
WEBHOOK_ENV = "OBSERVATORY_WEBHOOK_URL"
EUROSTAT_DATASETS_ENV = "OBSERVATORY_EUROSTAT_DATASETS"
CENSUS_API_KEY_ENV = "CENSUS_API_KEY"


def debug() -> bool:
    """OBSERVATORY_DEBUG set (to anything): tracebacks instead of one-line errors."""
    return bool(os.environ.get("OBSERVATORY_DEBUG"))


def log_level() -> str:
    """Dagster console log level of CLI runs (OBSERVATORY_LOG_LEVEL, default INFO)."""
    return os.environ.get("OBSERVATORY_LOG_LEVEL", "INFO").upper()


def release_csv_spec() -> str:
    """OBSERVATORY_RELEASE_CSV as written: auto, all, none or a list of tables."""
    return os.environ.get("OBSERVATORY_RELEASE_CSV", "auto").strip().lower()


def eurostat_datasets_spec() -> str | None:
    """OBSERVATORY_EUROSTAT_DATASETS as written (None: the default datasets)."""
    return os.environ.get(EUROSTAT_DATASETS_ENV)


def census_api_key() -> str | None:
    return os.environ.get(CENSUS_API_KEY_ENV) or None


def webhook_url() -> str | None:
    return os.environ.get(WEBHOOK_ENV)


def dagster_home() -> str | None:
    return os.environ.get("DAGSTER_HOME")
