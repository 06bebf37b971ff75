"""Production instance on a real PostgreSQL server: partitioned runs and asset records.

Starts the Debian package's server (initdb/pg_ctl under /usr/lib/postgresql/*/bin) as a
non-root user in a temp dir on a free localhost port, and stops it at the end. Missing binaries
fail the test: `make test` (and so .ci/run) installs the package when it is absent.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.defs import us
from pipelines.defs.resources import ObservatoryResource

PROD_YAML = PROJECT_ROOT / "assets" / "deploy" / "dagster.postgres.yaml"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries missing (/usr/lib/postgresql/*/bin/initdb): "
            "run `make test` (installs the Debian package 'postgresql') or apt-get install postgresql",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bin()
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="observatory-pg-"))
    data, log = base / "data", base / "server.log"
    prefix: list[str] = []
    if root:  # initdb refuses root: run the server as the package's postgres user
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *cmd, **kw: subprocess.run([*prefix, *map(str, cmd)], check=True, capture_output=True, timeout=60, **kw)  # noqa: E731
    try:
        run(bindir / "initdb", "-D", data, "-U", "observatory", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(
            bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "start",
            "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
        )
    except subprocess.CalledProcessError as exc:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode()}\n{text}", pytrace=False)
    try:
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=port, user="observatory", dbname="postgres")
        con.autocommit = True
        con.cursor().execute("CREATE DATABASE dagster")
        con.close()
        yield {"host": "127.0.0.1", "port": port, "user": "observatory", "db": "dagster"}
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_partitioned_runs_on_postgres(postgres, tmp_path, mirror_dir, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROD_YAML, home / "dagster.yaml")
    for k, v in {
        "DAGSTER_HOME": home, "DAGSTER_PG_HOST": postgres["host"], "DAGSTER_PG_PORT": postgres["port"],
        "DAGSTER_PG_DB": postgres["db"], "DAGSTER_PG_USER": postgres["user"], "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_COMPUTE_LOG_DIR": tmp_path / "compute_logs",
    }.items():
        monkeypatch.setenv(k, str(v))
    resources = {
        "observatory": ObservatoryResource(
            warehouse=str(tmp_path / "warehouse"), mirror=str(mirror_dir), offline=True, cbp_years="2010-2011"
        )
    }
    with dg.DagsterInstance.get() as instance:
        from dagster._core.run_coordinator import QueuedRunCoordinator
        from dagster_postgres import PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        # a single-run backfill over two years, then one more partition
        r1 = dg.materialize(
            [us.cbp_state], instance=instance, resources=resources,
            tags={"dagster/asset_partition_range_start": "2010", "dagster/asset_partition_range_end": "2011"},
        )
        r2 = dg.materialize([us.cbp_state], instance=instance, resources=resources, partition_key="2011")
        assert r1.success and r2.success
        runs = instance.get_runs()
        assert {r.run_id for r in runs} == {r1.run_id, r2.run_id}
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        key = dg.AssetKey("cbp_state")
        assert instance.get_materialized_partitions(key) == {"2010", "2011"}
        latest = instance.get_latest_materialization_event(key)
        assert latest.run_id == r2.run_id and latest.asset_materialization.partition == "2011"
        records = instance.fetch_materializations(key, limit=10).records
        assert sorted(r.partition_key for r in records) == ["2010", "2011", "2011"]

    import psycopg2

    con = psycopg2.connect(host=postgres["host"], port=postgres["port"], user=postgres["user"], dbname=postgres["db"])
    with con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        assert cur.fetchone()[0] == 2
        cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cur.fetchone()[0] == 3
    con.close()
