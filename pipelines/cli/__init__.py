"""`observatory` command line: run the refresh, compute indicators from your own totals, inspect releases."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from pipelines.cli.console import Console, NotDetail, Wrapped, summary_lines, verbose
from pipelines.cli.releases import cmd_releases
from pipelines.config import Settings, debug, parse_years
from pipelines.errors import SourceError
from pipelines.layout import read_latest

# Commands import the stage modules they need inside the function, on purpose: `observatory
# releases list` and `--help` start without loading Dagster, DuckDB, Polars or Great Expectations.


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command's --years when given (every other setting kept)."""
    s = Settings.from_env()
    if getattr(args, "years", None):
        s = dataclasses.replace(s, cbp_years=tuple(parse_years(args.years)))  # keep every other setting
    if getattr(args, "allow_narrower", False):
        s = dataclasses.replace(s, allow_narrower=True)
    return s


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def _show_progress() -> None:
    """Long steps' progress lines (pipelines.* INFO: CBP per year, Eurostat per dataset, indicator
    families per side; per-table detail only at OBSERVATORY_LOG_LEVEL=DEBUG) on stdout, warnings on
    stderr; once per process. Without this they would be silent (nothing else configures Python
    logging in a CLI run)."""
    root = logging.getLogger("pipelines")
    if any(getattr(h, "_observatory", False) for h in root.handlers):
        return
    info = Console("stdout")
    info.addFilter(_Below(logging.WARNING))
    info.addFilter(NotDetail())
    warn = Console("stderr")
    warn.setLevel(logging.WARNING)
    for h in (info, warn):
        h.setFormatter(Wrapped())
        h._observatory = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(logging.DEBUG if verbose() else logging.INFO)


def _inputs_line(settings: Settings) -> str:
    mirror = f"mirror {settings.mirror}{' (offline)' if settings.offline else ''}" if settings.mirror else "upstream (no mirror)"
    years = f"CBP {settings.cbp_years[0]}–{settings.cbp_years[-1]} ({len(settings.cbp_years)} years, {'+'.join(settings.cbp_geos)})"
    return f"inputs: {years}{', Eurostat' if settings.eurostat else ''}; {mirror}"


def cmd_run(args: argparse.Namespace) -> int:
    """The refresh, or — when inputs, settings and code are those of the latest release — a
    two-line "nothing changed" decided from fingerprints before any stage runs."""
    from pipelines.release.integrity import heal_latest
    from pipelines.runs.lock import warehouse_lock
    from pipelines.runs.unchanged import unchanged_release

    settings = settings_from_args(args)
    print(f"warehouse: {settings.warehouse}")
    print(_inputs_line(settings))
    if not args.force:
        with warehouse_lock(settings, "run: unchanged check"):
            healed = heal_latest(settings.releases_dir)  # verifies latest first (issue 20)
            same = unchanged_release(settings)
        if healed:
            print(healed)
        if same:
            print(f"nothing changed since release {same['version']} (same inputs, settings and code): nothing published")
            print(f"  page: {same['path'] / 'index.html'}")
            return 0
    from pipelines.cli.refresh import refresh

    _show_progress()
    started = time.time()
    result = refresh(settings, notice=lambda line: print(line, flush=True))
    rel = result.release
    path = Path(rel["path"]) if rel.get("path") else None
    if rel.get("published"):
        tables = rel.get("tables", {})
        print(f"published release {rel['version']}: {len(tables)} tables, {sum(tables.values()):,} rows")
    else:
        print(f"nothing changed since release {rel.get('version')}: nothing published")
    for line in summary_lines(settings.warehouse, path, since=started):
        print(line)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Targeted refresh / backfill: chosen sources and years only (e.g. --years 2000-2011 --sources cbp)."""
    from pipelines.cli.refresh import SOURCES, refresh

    settings = settings_from_args(args)
    _show_progress()
    sources = [s.strip() for s in (args.sources or ",".join(SOURCES)).split(",") if s.strip()]
    print(f"refresh {', '.join(sources)}; CBP years {settings.cbp_years[0]}–{settings.cbp_years[-1]}")
    result = refresh(settings, sources=sources, notice=lambda line: print(line, flush=True))
    ids = f": {', '.join(r[:8] for r in result.run_ids)}" if verbose() else ""  # run ids only when asked
    print(f"{len(result.run_ids)} run(s){ids}")
    rel = result.release
    if rel:
        state = "published" if rel.get("published") else "unchanged, nothing published:"
        print(f"release {state} {rel.get('version')}")
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    import polars as pl

    from pipelines.warehouse.indicators import (
        indicators_from_totals,
        read_cluster_totals,
        reference_for_totals,
        unnamed_regions,
    )

    settings = Settings.from_env()
    totals = read_cluster_totals(Path(args.cluster_totals))
    release = _release_dir(args.release, settings) if args.release else None
    clusters, regions, origin = reference_for_totals(settings, release)
    print(f"cluster definitions from {origin}")
    out = indicators_from_totals(totals, clusters)
    if regions is not None:
        unnamed = unnamed_regions(out["cluster_indicators"], regions)
        if unnamed.height:
            shown = ", ".join(f"{t}/{c}" for t, c in unnamed.head(10).iter_rows())
            print(f"warning: {unnamed.height} region code(s) have no name in the reference regions: {shown}", file=sys.stderr)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in out.items():
        path = out_dir / f"{name}.parquet"
        df.sort("region_type", "region_code", *(["cluster_code"] if "cluster_code" in df.columns else []), "year").write_parquet(
            path, compression="zstd", statistics=True
        )
        print(f"wrote {path} ({df.height:,} rows)")
    ref = out["cluster_indicators"].select(pl.col("national_reference").unique()).to_series().to_list()
    print(f"national reference: {', '.join(sorted(map(str, ref)))}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a folder (default: the warehouse's releases) over HTTP with Range support."""
    from pipelines.cli.serve import make_server

    root = Path(args.dir) if args.dir else Settings.from_env().releases_dir
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder to serve")
    server = make_server(root, args.host, args.port, verbose=verbose())
    host, port = server.server_address[:2]
    print(f"serving {root} at http://{host}:{port}/ (HTTP Range honoured; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _release_dir(spec: str, settings: Settings) -> Path:
    """A release folder, or a version (or "latest") under the warehouse's releases."""
    path = Path(spec)
    if (path / "datapackage.json").is_file():
        return path
    version = (read_latest(settings.releases_dir) or {}).get("version") if spec == "latest" else spec
    cand = settings.releases_dir / str(version)
    if version and (cand / "datapackage.json").is_file():
        return cand
    raise FileNotFoundError(f"--release {spec}: not a release folder, nor a version in {settings.releases_dir}")


NARROWER_HELP = (
    "publish even if the release covers fewer CBP years, geographies or sources than the latest one "
    "(without it such a release is not published and the latest stays latest)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="observatory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="refresh sources, compute indicators, publish a release")
    p_run.add_argument("--years", help="CBP years, e.g. 2000-2011 (default: OBSERVATORY_CBP_YEARS)")
    p_run.add_argument("--allow-narrower", action="store_true", help=NARROWER_HELP)
    p_run.add_argument("--force", action="store_true", help="run every step even when inputs, settings and code are unchanged")
    p_run.set_defaults(func=cmd_run)
    p_ref = sub.add_parser("refresh", help="refresh chosen sources and years (backfill), e.g. --years 2000-2011 --sources cbp")
    p_ref.add_argument("--years", help="CBP years, e.g. 2000-2011 (default: OBSERVATORY_CBP_YEARS)")
    p_ref.add_argument("--sources", help="comma list of reference, cbp, publish (default: all)")
    p_ref.add_argument("--allow-narrower", action="store_true", help=NARROWER_HELP)
    p_ref.set_defaults(func=cmd_refresh)
    p_ind = sub.add_parser("indicators", help="indicators from your own cluster totals")
    p_ind.add_argument("--cluster-totals", required=True, help="CSV or Parquet: year, region_type, region_code, cluster_code, emp, emp_reported, est, payroll")
    p_ind.add_argument("--out", default=".", help="output folder (default: current)")
    p_ind.add_argument("--release", help="read cluster definitions and region names from a release (folder, version or latest) instead of the mirror/packaged reference")
    p_ind.set_defaults(func=cmd_indicators)
    p_rel = sub.add_parser("releases", help="list, show, diff, verify, delete or push releases")
    p_rel.add_argument("action", choices=["list", "show", "diff", "verify", "delete", "push"])
    p_rel.add_argument("version", nargs="?", help="release version (diff: the older one, A; push: DEST)")
    p_rel.add_argument("other", nargs="?", help="diff: the newer release, B")
    p_rel.add_argument("--rtol", type=float, default=1e-9, help="diff: relative tolerance for numbers (default 1e-9)")
    p_rel.add_argument("--atol", type=float, default=1e-9, help="diff: absolute tolerance for numbers (default 1e-9)")
    p_rel.add_argument("--json", action="store_true", help="diff: machine-readable output")
    p_rel.add_argument("--yes", action="store_true", help="delete: confirm")
    p_rel.add_argument("--release", help="push: the version to push (default: latest)")
    p_rel.add_argument("--endpoint-url", help="push: S3-compatible endpoint (default: OBSERVATORY_S3_ENDPOINT_URL)")
    p_rel.set_defaults(func=cmd_releases)
    p_srv = sub.add_parser("serve", help="serve releases over HTTP with Range requests (local testing of dashboard reads)")
    p_srv.add_argument("dir", nargs="?", help="folder to serve (default: the warehouse's releases)")
    p_srv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    p_srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    p_srv.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    started = time.time()
    try:
        return int(args.func(args))
    except Exception as exc:  # a clear one-line error for users; tracebacks with OBSERVATORY_DEBUG=1
        if debug():
            raise
        print(f"error: {error_message(exc, since=started)}", file=sys.stderr)
        return 1


def error_message(exc: BaseException, *, since: float | None = None) -> str:
    """What a user can act on: for a run stopped by a blocking check, the failing expectations,
    tables and sample rows (from the run's validation report); for a failed step, the error the
    step raised (a SourceError names source, file/URL and rows); never Dagster's stack trace."""
    from pipelines.validation.report import blocked_message

    if "blocking asset check" in str(exc):
        try:
            warehouse = Settings.from_env().warehouse
        except ValueError:
            warehouse = None
        blocked = blocked_message(warehouse, since=since) if warehouse else None
        if blocked:
            return blocked
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the user code's own error, not the wrapper
        seen.add(id(cause))
        if isinstance(cause, SourceError):
            break  # names source, file/URL and rows; its causes (BadZipFile, …) do not
        inner = getattr(cause, "user_exception", None) or cause.__cause__
        if inner is None:
            break
        cause = inner
    text = str(cause or exc)
    return text.split("\n\nStack Trace:", 1)[0].strip()

