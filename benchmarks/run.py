"""`make bench`: time the pipeline on synthetic county-level CBP input and compare.

    python -m benchmarks.run                      # 25 years, all stages
    python -m benchmarks.run --years 1,5,10,25    # scaling curve
    python -m benchmarks.run --years 5 --stages floor,pipeline

Stages (each in its own child process, one after the other, on the same generated input):
  floor     DuckDB scan floor: unzip the files and aggregate EMP/EST to year × region × cluster,
            nothing else (the least any implementation must spend reading the input)
  pipeline  the pipeline's own harmonise + indicators path, as the assets run it, without
            Dagster: staging.cbp.parse_cbp_file → staged Parquet per year → DuckDB load →
            indicators.build_cluster_tables (sql/*.sql)
  pandas    the plain pandas baseline (benchmarks/pandas_baseline.py)
  dagster   `observatory run` (= make run) on the mirror, cold (empty warehouse and DAGSTER_HOME),
            then again unchanged
  county    (only when asked) `observatory run`, cold, on the first n benchmark county years served
            through a mirror overlay: staging, checks, indicators, families, release and page at
            county scale (benchmarks/county_run.py)
Wall time is measured around each child (interpreter start-up included); work time inside it
(the ratios use work time);
peak RSS is the child's ru_maxrss from wait4. The 1-minute load average (max of
before/after) is recorded: on a shared machine other jobs inflate the times. Results are printed and appended to
benchmarks/RESULTS.md with the machine description. When pipeline and pandas both ran, their
cluster indicators are compared cell by cell.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import county_run, generate
from pipelines.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "RESULTS.md"
STAGES = ("floor", "pipeline", "pandas", "dagster", "county")
DEFAULT_STAGES = ("floor", "pipeline", "pandas", "dagster")  # county: on demand (minutes a year count)
TARGETS = {
    "pipeline_s": 60.0,  # full 25-year county history
    "pipeline_over_floor": 1.5,  # issue 22 (issue 7: 3×)
    "pandas_over_pipeline": 8.0,  # issue 22 (issue 7: 10×)
    "rss_mb": 4096.0,
    "dagster_cold_s": 90.0,
    "dagster_unchanged_s": 15.0,
}


# --- inputs -----------------------------------------------------------------------------------


def input_files(data: Path, n_years: int) -> list[tuple[int, Path]]:
    manifest = generate.read_manifest(data)
    if manifest is None:
        raise SystemExit(f"no manifest in {data}; run python -m benchmarks.generate first")
    years = generate.default_years(n_years, int(manifest["first_year"]))
    recs = {int(f["year"]): f for f in manifest["files"]}  # type: ignore[union-attr]
    missing = [y for y in years if y not in recs]
    if missing:
        raise SystemExit(f"years {missing} not generated in {data}")
    return [(y, data / recs[y]["path"]) for y in years]


def input_rows(data: Path, n_years: int) -> int:
    manifest = generate.read_manifest(data) or {}
    years = {y for y, _ in input_files(data, n_years)}
    return sum(int(f["rows"]) for f in manifest.get("files", []) if int(f["year"]) in years)


def stage_reference(ref_wh: Path, mirror: Path | None = None) -> Path:
    """Stage the pipeline's reference tables once (clusters, cluster_naics, ...); return the dir."""
    from pipelines.config import Settings
    from pipelines.layout import reference_dir
    from pipelines.staging import reference

    settings = Settings(warehouse=ref_wh, mirror=mirror or generate.mirror_root(), offline=True)
    reference.stage_reference(settings)
    return reference_dir(settings)


# --- stages (run in the child process) ----------------------------------------------------------


def _extract_all(files: list[tuple[int, Path]], work: Path) -> list[tuple[int, Path]]:
    from pipelines.sources import cbp

    return [(y, cbp.extract_member(z, work / str(y), cbp.source_id(y, "county"))) for y, z in files]


def run_floor(
    files: list[tuple[int, Path]], ref_dir: Path, work: Path, out: Path
) -> dict[str, Any]:
    """Unzip + DuckDB read_csv + join definitions + GROUP BY year, region, cluster. Nothing else."""
    import duckdb

    t0 = time.perf_counter()
    texts = _extract_all(files, work)
    t_unzip = time.perf_counter() - t0
    parts = []
    for year, path in texts:
        vintage = generate.file_vintage(year)
        parts.append(
            f"SELECT {year} AS year, '{vintage}' AS v, fipstate || fipscty AS region, naics, "
            f"CAST(emp AS BIGINT) AS emp, CAST(est AS BIGINT) AS est "
            f"FROM read_csv('{path}', header = true, all_varchar = true)"
        )
    sql = f"""
        COPY (
            SELECT c.year, c.region, d.cluster_code, sum(c.emp) AS emp, sum(c.est) AS est
            FROM ({" UNION ALL ".join(parts)}) AS c
            JOIN read_parquet('{ref_dir / "cluster_naics.parquet"}') AS d
              ON d.naics_vintage = c.v AND d.naics = c.naics
            GROUP BY ALL
        ) TO '{out}' (FORMAT parquet)
    """
    with duckdb.connect() as con:
        con.execute(sql)
        n = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0][0]
    return {"unzip_s": round(t_unzip, 2), "out_rows": int(n)}


def run_pipeline(
    files: list[tuple[int, Path]], ref_dir: Path, work: Path, out: Path
) -> dict[str, Any]:
    """The assets' code path: stage each year to Parquet, load into DuckDB, run sql/*.sql."""
    import duckdb

    from pipelines.config import Settings
    from pipelines.sources import cbp
    from pipelines.staging.cbp import stage_cbp_file
    from pipelines.staging.quarantine import naics_codes_from
    from pipelines.warehouse import database

    manifest = {int(f["year"]): f for f in generate.read_manifest(files[0][1].parents[1])["files"]}  # type: ignore[index]
    t0 = time.perf_counter()
    codes = naics_codes_from(ref_dir)  # as stage_cbp: vintage detected, quarantine on its code list
    jobs = [
        (
            z,
            work / "staging" / "cbp" / "county" / f"year={year}.parquet",
            dict(
                year=year,
                source_id=cbp.source_id(year, "county"),
                sha256=str(manifest[year]["sha256"]),
                location=cbp.url(year, "county"),
                work_dir=work,
                quarantine=work / "staging" / "cbp_quarantine" / "county" / f"year={year}.parquet",
                vintage_codes=codes,
            ),
        )
        for year, z in files
    ]
    # Two years in flight, as the assets stage them (pipelines.staging.cbp.stage_cbp_years).
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda j: stage_cbp_file(j[0], j[1], **j[2]), jobs))
    staged = [dest for _z, dest, _kw in jobs]
    t_stage = time.perf_counter() - t0
    with duckdb.connect(str(work / "observatory.duckdb")) as con:
        database.configure(con, Settings.from_env())  # as database.connect: the memory cap
        counts = database.build_indicators(con, staged, ref_dir)
        t_load = 0.0  # the staged Parquet is read in place by the SQL (no load step)
        t_sql = time.perf_counter() - t0 - t_stage
        con.execute(f"COPY cluster_indicators TO '{out}' (FORMAT parquet)")
        c_fam = time.process_time()
        t_fam, slowest = _families(con)
        c_fam = time.process_time() - c_fam
    return {
        "stage_s": round(t_stage, 2),
        "load_s": round(t_load, 2),
        "sql_s": round(t_sql, 2),
        "out_rows": counts["cluster_indicators"],
        # issue 22: the indicator families the assets build after the indicators (database.build_us_indicators),
        # timed apart so pipeline/floor stays comparable with the runs before them
        "families_s": round(t_fam, 2),
        "families_cpu_s": round(c_fam, 1),
        "families_slowest": slowest,
    }


def _families(con: Any) -> tuple[float, str]:
    """The US indicator families on the built tables (no region groups), as the assets build them;
    (seconds, the slowest families with their seconds)."""
    import logging

    from pipelines.staging.custom_regions import custom_regions_table
    from pipelines.warehouse import families
    from pipelines.warehouse.sql import register_frame

    register_frame(con, "bench_custom_regions", custom_regions_table([]))
    con.execute("CREATE OR REPLACE TABLE custom_regions AS SELECT * FROM bench_custom_regions")
    times: dict[str, float] = {}

    class Times(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:  # "family %s: %s rows (%.1fs)"
            if record.args and len(record.args) == 3:
                times[str(record.args[0])] = float(record.args[2])  # type: ignore[index, arg-type]

    logger = logging.getLogger(families.__name__)
    handler = Times()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    t0 = time.perf_counter()
    try:
        families.build_families(con, "us", families.FAMILY_PARAMS)
    finally:
        logger.removeHandler(handler)
    slowest = " ".join(f"{k}:{v:.1f}" for k, v in sorted(times.items(), key=lambda kv: -kv[1])[:4])
    return time.perf_counter() - t0, slowest


def run_pandas(
    files: list[tuple[int, Path]], ref_dir: Path, work: Path, out: Path
) -> dict[str, Any]:
    import pandas as pd

    from benchmarks import pandas_baseline

    clusters = pd.read_parquet(ref_dir / "clusters.parquet")
    cluster_naics = pd.read_parquet(ref_dir / "cluster_naics.parquet")
    res = pandas_baseline.run(files, clusters, cluster_naics)
    ci = res["cluster_indicators"]
    ci.to_parquet(out)
    return {"out_rows": len(ci)}


CHILD_STAGES = {"floor": run_floor, "pipeline": run_pipeline, "pandas": run_pandas}


def child_main(stage: str, data: Path, n_years: int, work: Path, ref_dir: Path, out: Path) -> int:
    files = input_files(data, n_years)
    t0, c0 = time.perf_counter(), time.process_time()
    info = CHILD_STAGES[stage](files, ref_dir, work, out)
    info["work_s"] = round(time.perf_counter() - t0, 2)
    info["work_cpu_s"] = round(time.process_time() - c0, 1)  # every thread of the child
    info["vmhwm_mb"] = _vmhwm_mb()
    print("RESULT " + json.dumps(info), flush=True)
    return 0


# --- parent: run children, measure, report ----------------------------------------------------


def _vmhwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident set of a live process (VmHWM), MB. Unlike ru_maxrss it does not inherit the
    parent's high-water mark across fork/exec, so a large parent cannot inflate it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _spawn(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> dict[str, Any]:
    """Run a child, return wall seconds, peak RSS (MB) and its RESULT json.

    Peak RSS: the child's own VmHWM report when it gives one, else the last VmHWM polled from
    /proc every 0.1 s while it runs (VmHWM only grows, so this misses at most the last 0.1 s)."""
    t0 = time.perf_counter()
    peak = [0.0]
    with open(log or os.devnull, "w") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=PROJECT_ROOT, text=True
        )
        done = threading.Event()

        def poll() -> None:
            while not done.wait(0.1):
                v = _vmhwm_mb(proc.pid)
                if v:
                    peak[0] = max(peak[0], v)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    rss = result.pop("vmhwm_mb", None) or peak[0]
    return {
        "wall_s": round(wall, 2),
        # CPU seconds (user + system, all threads): on a shared machine a stage's CPU barely moves
        # while its wall time follows the load, so before/after pairs compare best on this
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "rss_mb": round(rss, 0),
        "ok": proc.returncode == 0,
        "stdout": stdout,
        **result,
    }


def run_child_stage(
    stage: str, data: Path, n_years: int, work_root: Path, ref_dir: Path
) -> dict[str, Any]:
    work = work_root / f"{stage}-{n_years}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = work_root / f"{stage}-{n_years}.parquet"
    log = work_root / f"{stage}-{n_years}.log"
    cmd = [
        sys.executable, "-m", "benchmarks.run", "--child", stage, "--data", str(data),
        "--n-years", str(n_years), "--work", str(work), "--ref-dir", str(ref_dir), "--out", str(out),
    ]  # fmt: skip
    load = os.getloadavg()[0]
    res = _spawn(cmd, log=log)
    res["load"] = round(max(load, os.getloadavg()[0]), 1)
    shutil.rmtree(work, ignore_errors=True)
    res.update(stage=stage, years=n_years, rows=input_rows(data, n_years), out=str(out))
    if not res["ok"]:
        res["error"] = log.read_text()[-2000:]
    return res


def run_dagster(work_root: Path) -> list[dict[str, Any]]:
    """`observatory run` on the mirror: cold (fresh warehouse + DAGSTER_HOME), then unchanged."""
    base = work_root / "dagster"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    env = {
        **os.environ,
        "OBSERVATORY_WAREHOUSE": str(base / "warehouse"),
        "DAGSTER_HOME": str(base / "dagster_home"),
        "OBSERVATORY_MIRROR": str(generate.mirror_root()),
        "OBSERVATORY_OFFLINE": "1",
    }
    exe = Path(sys.executable).with_name("observatory")
    out = []
    for label in ("cold", "unchanged"):
        log = work_root / f"dagster-{label}.log"
        load = os.getloadavg()[0]
        res = _spawn([str(exe), "run"], env=env, log=log)
        res["load"] = round(max(load, os.getloadavg()[0]), 1)
        res.update(stage=f"dagster {label}", years=None, rows=None)
        printed = res.pop("stdout").splitlines() + log.read_text().splitlines()
        steps = step_times(log.read_text())[:6]  # Dagster's own lines: with OBSERVATORY_LOG_LEVEL=DEBUG
        res["detail"] = f"{len(printed)} lines, longest {max((len(x) for x in printed), default=0)} chars" + (
            "; slowest steps: " + ", ".join(f"{name} {secs:.1f}s" for name, secs in steps) if steps else ""
        )
        if not res["ok"]:
            res["error"] = log.read_text()[-2000:]
        out.append(res)
    return out


def run_county(data: Path, n_years: int, work_root: Path) -> dict[str, Any]:
    """`observatory run` cold on the first n county years (benchmarks/county_run.py)."""
    manifest = generate.read_manifest(data) or {}
    years = generate.default_years(n_years, int(manifest["first_year"]))  # type: ignore[arg-type]
    base = work_root / f"county-{n_years}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    log = work_root / f"county-{n_years}.log"
    load = os.getloadavg()[0]
    res = _spawn([str(Path(sys.executable).with_name("observatory")), "run"], env=county_run.county_env(data, base, years), log=log)
    res["load"] = round(max(load, os.getloadavg()[0]), 1)
    res.update(stage="county cold", years=n_years, rows=input_rows(data, n_years))
    res.pop("stdout", None)
    res["detail"] = county_run.describe(step_times(log.read_text()))
    if not res["ok"]:
        res["error"] = log.read_text()[-2000:]
    return res


_LOGLINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+0000 - dagster - \w+ - \S+ - [0-9a-f-]{36} - (\w+) - ",
    re.M,
)
_STEP = re.compile(r'Finished execution of step "([^"]+)" in ((?:[0-9.]+(?:ms|s|m|h))+)')
_PART = re.compile(r"([0-9.]+)(ms|s|m|h)")


def step_times(log: str) -> list[tuple[str, float]]:
    """(step, seconds) from a Dagster run log, slowest first (durations like 870ms, 17.5s, 1m49s)."""
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    steps = [(m[1], sum(float(v) * scale[u] for v, u in _PART.findall(m[2]))) for m in _STEP.finditer(log)]
    if not steps:  # no "Finished execution" lines: charge each gap between log lines to the step
        lines = [
            (datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S"), m[2]) for m in _LOGLINE.finditer(log)
        ]
        total: dict[str, float] = {}
        for (t, step), (t_next, _) in itertools.pairwise(lines):
            total[step] = total.get(step, 0.0) + (t_next - t).total_seconds()
        steps = list(total.items())
    return sorted(steps, key=lambda x: -x[1])


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            int(line.split()[1]) / 1024 / 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem = float("nan")
    from importlib.metadata import version

    libs = ", ".join(f"{lib} {version(lib)}" for lib in ("polars", "duckdb", "pandas", "numpy"))
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, {platform.platform()}; Python {platform.python_version()}, {libs}"


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "pipelines", "sql"],
            cwd=PROJECT_ROOT, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def _fmt(v: Any, spec: str = ",.1f") -> str:
    return "—" if v is None else format(v, spec)


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| stage | years | input rows | wall s | work s | CPU s | rows/s | peak RSS MB | load avg | detail |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rows = r.get("rows")
        work = r.get("work_s")
        rate = rows / work if rows and work else None
        detail = r.get("detail") or ", ".join(
            f"{k} {r[k]}" for k in ("unzip_s", "stage_s", "load_s", "sql_s", "out_rows", "families_s", "families_slowest") if k in r
        )
        if not r.get("ok", True):
            detail = (
                "FAILED: " + (r.get("error") or "").strip().splitlines()[-1][:200]
                if r.get("error")
                else "FAILED"
            )
        lines.append(
            f"| {r['stage']} | {_fmt(r.get('years'), 'd')} | {_fmt(rows, ',d')} | {_fmt(r['wall_s'])} | "
            f"{_fmt(work)} | {_fmt(r.get('cpu_s'))} | {_fmt(rate, ',.0f')} | {_fmt(r['rss_mb'], ',.0f')} | {_fmt(r.get('load'))} | {detail} |"
        )
    return lines


def summary(results: list[dict[str, Any]], agreement: dict[int, str]) -> list[str]:
    by = {(r["stage"], r.get("years")): r for r in results if r.get("ok")}
    lines = []
    for n in sorted({r["years"] for r in results if r.get("years")}):
        fl, pi, pa = by.get(("floor", n)), by.get(("pipeline", n)), by.get(("pandas", n))
        bits = []
        # the ratios compare like with like: harmonise + indicators (families, which pandas and the
        # runs before issue 22 did not do, are reported apart)
        pi_s = (pi["work_s"] - pi.get("families_s", 0.0)) if pi else None
        if pi and fl:
            bits.append(
                f"pipeline/floor = {pi_s / fl['work_s']:.2f}× (target ≤ {TARGETS['pipeline_over_floor']:.1f}×)"
            )
            if pi.get("work_cpu_s") and fl.get("work_cpu_s"):
                cpu = pi["work_cpu_s"] - pi.get("families_cpu_s", 0.0)
                bits.append(f"on CPU seconds {cpu / fl['work_cpu_s']:.2f}× ({cpu:.1f} / {fl['work_cpu_s']:.1f} s)")
            if pi.get("families_s"):
                bits.append(f"with the families {pi['work_s'] / fl['work_s']:.2f}× (families {pi['families_s']:.1f} s)")
        if pi and pa and pa.get("work_cpu_s") and pi.get("work_cpu_s"):
            cpu = pi["work_cpu_s"] - pi.get("families_cpu_s", 0.0)
            bits.append(f"pandas/pipeline on CPU seconds {pa['work_cpu_s'] / cpu:.2f}×")
        if pi and pa:
            bits.append(
                f"pandas/pipeline = {pa['work_s'] / pi_s:.2f}× (target ≥ {TARGETS['pandas_over_pipeline']:.0f}×)"
            )
        if pi:
            bits.append(f"pipeline {pi['work_s'] / n:.2f} s/year, peak RSS {pi['rss_mb']:,.0f} MB")
        if n in agreement:
            bits.append(f"pipeline vs pandas: {agreement[n]}")
        lines.append(f"- {n} years: " + "; ".join(bits))
    for label, key in (
        ("dagster cold", "dagster_cold_s"),
        ("dagster unchanged", "dagster_unchanged_s"),
    ):
        r = by.get((label, None))
        if r:
            ok = "met" if r["wall_s"] <= TARGETS[key] else "MISSED"
            lines.append(f"- {label}: {r['wall_s']:.1f} s (target ≤ {TARGETS[key]:.0f} s: {ok})")
    pi25 = by.get(("pipeline", 25))
    if pi25:
        ok = (
            "met"
            if pi25["wall_s"] <= TARGETS["pipeline_s"] and pi25["rss_mb"] <= TARGETS["rss_mb"]
            else "MISSED"
        )
        lines.append(
            f"- 25-year target (≤ {TARGETS['pipeline_s']:.0f} s, ≤ {TARGETS['rss_mb']:.0f} MB): "
            f"{pi25['wall_s']:.1f} s, {pi25['rss_mb']:,.0f} MB: {ok}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark the pipeline on synthetic county CBP files."
    )
    ap.add_argument("--years", default="25", help="comma list of year counts, e.g. 1,5,10,25")
    ap.add_argument("--stages", default=",".join(DEFAULT_STAGES), help=f"any of {','.join(STAGES)}")
    ap.add_argument("--data", type=Path, default=generate.DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--counties", type=int, default=None, help="county subset (quick runs)")
    ap.add_argument("--no-append", action="store_true", help="do not append to RESULTS.md")
    ap.add_argument("--note", default="", help="free text recorded with the results")
    # child mode
    ap.add_argument("--child", choices=sorted(CHILD_STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--n-years", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--ref-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_main(a.child, a.data, a.n_years, a.work, a.ref_dir, a.out)

    sizes = sorted({int(x) for x in a.years.split(",") if x.strip()})
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    print(f"machine: {machine()}")
    print(f"input: {a.data} (seed {a.seed}, {max(sizes)} years)")
    manifest = generate.generate(
        a.data, generate.default_years(max(sizes)), seed=a.seed, counties=a.counties
    )
    work_root = a.data / "_work"
    work_root.mkdir(parents=True, exist_ok=True)
    ref_dir = stage_reference(work_root / "reference_wh")
    results: list[dict[str, Any]] = []
    agreement: dict[int, str] = {}
    for n in sizes:
        for stage in (s for s in stages if s in CHILD_STAGES):
            print(f"-- {stage}, {n} years ...", flush=True)
            r = run_child_stage(stage, a.data, n, work_root, ref_dir)
            print("   " + table([r])[-1], flush=True)
            results.append(r)
        outs = {r["stage"]: r for r in results if r.get("years") == n and r.get("ok")}
        if "pipeline" in outs and "pandas" in outs:
            from benchmarks.pandas_baseline import compare_files

            problems = compare_files(Path(outs["pipeline"]["out"]), Path(outs["pandas"]["out"]))
            agreement[n] = (
                "identical indicators" if not problems else "DIFFER: " + "; ".join(problems[:5])
            )
            print(f"   pipeline vs pandas: {agreement[n]}")
    if "dagster" in stages:
        print("-- dagster (make run on the mirror), cold then unchanged ...", flush=True)
        for r in run_dagster(work_root):
            print("   " + table([r])[-1], flush=True)
            results.append(r)

    if "county" in stages:
        for n in sizes:
            print(f"-- county: observatory run, cold, on {n} county years ...", flush=True)
            r = run_county(a.data, n, work_root)
            print("   " + table([r])[-1], flush=True)
            results.append(r)

    lines = table(results)
    summ = summary(results, agreement)
    print("\n".join(["", *lines, "", *summ]))
    if not a.no_append:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        rows_per_year = [int(f["rows"]) for f in manifest["files"]][: max(sizes)]  # type: ignore[index]
        block = [
            "",
            f"## {stamp} — pipeline {git_rev()} — `--years {a.years} --stages {a.stages}`",
            "",
            f"Machine: {machine()}",
            "",
            f"Input: seed {a.seed}, {len(rows_per_year)} years from {manifest['first_year']}, "
            f"{sum(rows_per_year):,} rows ({min(rows_per_year):,}–{max(rows_per_year):,} a year), "
            f"counties {a.counties or 'all'}." + (f" Note: {a.note}" if a.note else ""),
            "",
            *lines,
            "",
            *summ,
            "",
        ]
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Benchmark results\n\nAppended by `make bench` (benchmarks/run.py).\n"
            )
        with open(RESULTS, "a") as fh:
            fh.write("\n".join(block))
        print(f"\nappended to {RESULTS}")
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
