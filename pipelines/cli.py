"""`observatory` command line: run the refresh, compute indicators from your own totals, inspect releases."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.config import Settings, parse_years


def _settings(args: argparse.Namespace) -> Settings:
    s = Settings.from_env()
    if getattr(args, "years", None):
        s = Settings(warehouse=s.warehouse, mirror=s.mirror, cbp_years=tuple(parse_years(args.years)), offline=s.offline)
    return s


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runner import refresh

    settings = _settings(args)
    print(f"warehouse: {settings.warehouse}")
    print(f"mirror:    {settings.mirror or '(none: fetching upstream)'}")
    print(f"CBP years: {settings.cbp_years[0]}–{settings.cbp_years[-1]} ({len(settings.cbp_years)} years)")
    result = refresh(settings)
    rel = result.release
    if rel.get("published"):
        print(f"published release {rel['version']} at {rel['path']}")
        for name, rows in rel.get("tables", {}).items():
            print(f"  {name:<24} {rows:>10,} rows")
        print(f"latest: {settings.releases_dir / 'latest.json'}")
    else:
        print(f"nothing changed since release {rel.get('version')} ({rel.get('path')}): nothing published")
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    import polars as pl

    from pipelines.http import fetch
    from pipelines.indicators import indicators_from_totals, read_cluster_totals
    from pipelines.sources import clustermapping

    settings = Settings.from_env()
    totals = read_cluster_totals(Path(args.cluster_totals))
    sid = clustermapping.IDS["cluster_naics_definitions"]
    raw = fetch(sid, None, settings, mirror_id=sid)
    clusters, _ = clustermapping.parse_cluster_definitions(raw.path)
    out = indicators_from_totals(totals, clusters)
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


def cmd_releases(args: argparse.Namespace) -> int:
    from pipelines.publish import read_latest, verify_release

    settings = Settings.from_env()
    rdir = settings.releases_dir
    if args.action == "list":
        latest = (read_latest(rdir) or {}).get("version")
        for d in sorted(p for p in rdir.glob("v*") if p.is_dir()):
            pkg = json.loads((d / "datapackage.json").read_text())
            mark = "*" if d.name == latest else " "
            print(f"{mark} {d.name}  created {pkg.get('created')}  {len(pkg.get('resources', []))} tables")
        return 0
    if not args.version:
        print("a version is required", file=sys.stderr)
        return 2
    path = rdir / args.version
    if not path.is_dir():
        print(f"no release {args.version} in {rdir}", file=sys.stderr)
        return 2
    if args.action == "show":
        pkg = json.loads((path / "datapackage.json").read_text())
        print(f"{pkg['version']}  created {pkg['created']}  code {pkg['code'].get('git_commit', pkg['code']['package_version'])}")
        for r in pkg["resources"]:
            print(f"  {r['path']:<40} {r['rows']:>10,} rows {r['bytes']:>12,} bytes")
        print(f"sources: {len(pkg['sources'])}; national reference: {pkg.get('national_reference')}")
        return 0
    problems = verify_release(path)
    for p in problems:
        print(f"FAIL {p}")
    print("OK: every sha256 matches" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="observatory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="refresh sources, compute indicators, publish a release")
    p_run.add_argument("--years", help="CBP years, e.g. 2000-2011 (default: OBSERVATORY_CBP_YEARS)")
    p_run.set_defaults(func=cmd_run)
    p_ind = sub.add_parser("indicators", help="indicators from your own cluster totals")
    p_ind.add_argument("--cluster-totals", required=True, help="CSV or Parquet: year, region_type, region_code, cluster_code, emp, emp_reported, est, payroll")
    p_ind.add_argument("--out", default=".", help="output folder (default: current)")
    p_ind.set_defaults(func=cmd_indicators)
    p_rel = sub.add_parser("releases", help="list, show or verify releases")
    p_rel.add_argument("action", choices=["list", "show", "verify"])
    p_rel.add_argument("version", nargs="?")
    p_rel.set_defaults(func=cmd_releases)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # a clear one-line error for users; tracebacks with OBSERVATORY_DEBUG=1
        import os

        if os.environ.get("OBSERVATORY_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
