"""`observatory releases list|show|diff|verify|delete|push`: inspect and manage published releases."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.config import Settings
from pipelines.layout import read_latest

# Release modules are imported inside each command, as in pipelines/cli/__init__.py (startup time).


def cmd_releases(args: argparse.Namespace) -> int:
    from pipelines.release.integrity import verify_release
    from pipelines.release.versions import list_versions

    settings = Settings.from_env()
    rdir = settings.releases_dir
    if args.action == "list":
        _heal_pointer(settings)
        try:
            latest = (read_latest(rdir) or {}).get("version")
        except ValueError:  # still damaged: a running build holds the warehouse and heals it
            latest = None
        versions = list_versions(rdir)
        if not versions:
            print(f"no releases in {rdir}")
        for v in versions:
            pkg = json.loads((rdir / v / "datapackage.json").read_text())
            mark = "*" if v == latest else " "
            n = sum(1 for r in pkg.get("resources", []) if r.get("format") == "parquet")
            print(f"{mark} {v}  created {pkg.get('created')}  {n} tables")
        return 0
    if args.action == "diff":
        return _releases_diff(args, rdir)
    if args.action == "push":
        return _releases_push(args, settings)
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
            rows = f"{r['rows']:>10,} rows" if "rows" in r else " " * 15
            print(f"  {r['path']:<40} {rows} {r['bytes']:>12,} bytes")
        print(f"sources: {len(pkg['sources'])}; national reference: {pkg.get('national_reference')}")
        if pkg.get("previousVersion"):
            print(f"previous: {pkg['previousVersion']} (see CHANGELOG.md, diff.json)")
        return 0
    if args.action == "delete":
        from pipelines.release.delete import delete_release
        from pipelines.runs.lock import warehouse_lock

        if not args.yes:
            print(f"refusing to delete {args.version} without --yes (releases are immutable; delete is the only way to remove one)", file=sys.stderr)
            return 2
        with warehouse_lock(settings, f"releases delete {args.version}"):  # never under a running publish
            new_latest = delete_release(rdir, args.version)
        print(f"deleted {args.version}; latest is now {new_latest or '(none)'}")
        return 0
    problems = verify_release(path)
    for p in problems:
        print(f"FAIL {p}")
    print("OK: every sha256 matches" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def _heal_pointer(settings: Settings) -> None:
    """Repair a damaged latest.json (one line on stderr) unless a run holds the warehouse."""
    from pipelines.release.integrity import heal_latest
    from pipelines.runs.lock import WarehouseBusyError, warehouse_lock

    if not settings.releases_dir.is_dir():
        return
    try:
        with warehouse_lock(settings, "releases list"):
            line = heal_latest(settings.releases_dir)
    except WarehouseBusyError:
        return  # the running build heals it
    if line:
        print(line, file=sys.stderr)


def _releases_push(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.release.push import push_release

    if not args.version:
        print("usage: observatory releases push DEST [--release V]  (DEST: s3://bucket/prefix, file:///path or a folder)", file=sys.stderr)
        return 2
    res = push_release(settings.releases_dir, args.version, args.release, endpoint_url=args.endpoint_url or settings.s3_endpoint_url)
    print(f"pushed {res.version} to {args.version}: {len(res.written)} file(s) written ({res.bytes_written:,} bytes), {len(res.skipped)} already there")
    print("latest.json now names " + res.version if res.latest_moved else "latest.json unchanged")
    return 0


def _releases_diff(args: argparse.Namespace, rdir: Path) -> int:
    from pipelines.release.diff import changelog_section, diff_releases

    if not args.version or not args.other:
        print("usage: observatory releases diff A B", file=sys.stderr)
        return 2
    for v in (args.version, args.other):
        if not (rdir / v / "datapackage.json").exists():
            print(f"no release {v} in {rdir}", file=sys.stderr)
            return 2
    diff = diff_releases(rdir / args.version, rdir / args.other, rtol=args.rtol, atol=args.atol)
    if args.json:
        print(json.dumps(diff, indent=2, default=str))
    else:
        created = json.loads((rdir / args.other / "datapackage.json").read_text()).get("created", "")
        print(changelog_section(diff, args.other, created))
    return 0
