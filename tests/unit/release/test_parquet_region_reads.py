"""Issue 22: a dashboard reading one region of a release table touches a small part of the file —
judged from the row-group statistics of a written table, and by a real HTTP Range read through
`observatory serve` (pipelines/cli/serve.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.cli.serve import RangeHandler, make_server
from pipelines.release.parquet import region_byte_shares, write_parquet
from pipelines.schemas import load_schema


def _indicators(n_states: int = 52, clusters: int = 67, years: int = 12) -> pl.DataFrame:
    """The shape of the 12-year state release's cluster_indicators (a country row set, then states)."""
    regions = pl.DataFrame(
        {"region_type": ["country"] + ["state"] * n_states, "region_code": ["US"] + [f"{i:02d}" for i in range(1, n_states + 1)]}
    )
    grid = regions.join(pl.DataFrame({"cluster_code": [f"c{c:03d}" for c in range(clusters)]}), how="cross").join(
        pl.DataFrame({"year": list(range(2000, 2000 + years))}), how="cross"
    )
    n = grid.height
    return grid.with_columns(
        emp=(pl.int_range(n) * 7919 % 100_003).cast(pl.Float64),
        lq=(pl.int_range(n) * 104729 % 1000 / 300).cast(pl.Float64),
        strong=pl.int_range(n) % 5 == 0,
    ).sample(fraction=1.0, shuffle=True, seed=1)  # the writer sorts


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rg") / "cluster_indicators.parquet"
    schema = load_schema("cluster_indicators")
    write_parquet(_indicators(), path, list(schema.sort_by), list(schema.primary_key))
    return path


def test_one_region_touches_at_most_5_percent_of_the_bytes(written: Path) -> None:
    shares = region_byte_shares(written)
    assert len(shares) == 53
    assert max(shares.values()) <= 0.05, sorted(shares.items(), key=lambda kv: -kv[1])[:3]


def test_row_groups_never_straddle_a_region_type_and_a_small_region_sits_in_one(written: Path) -> None:
    meta = pq.ParquetFile(written).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    kind, code = names.index("region_type"), names.index("region_code")
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(kind).statistics
        assert st.min == st.max, (g, st.min, st.max)
    df = pl.read_parquet(written)
    assert df.equals(df.sort("region_type", "region_code", "cluster_code", "year"))  # order kept
    groups = [
        g for g in range(meta.num_row_groups)
        if meta.row_group(g).column(code).statistics.min <= "25" <= meta.row_group(g).column(code).statistics.max
    ]  # fmt: skip
    assert len(groups) == 1  # 804 rows, under the row-group size


def test_a_range_read_over_http_fetches_little_beyond_the_footer(written: Path) -> None:
    """Polars over `observatory serve`: the right rows, and the ranges after its footer read come
    to at most 5 % of the file (Polars first fetches a fixed 256 KiB tail for the footer)."""
    requests: list[str] = []
    server = make_server(written.parent, port=0)

    class Logged(RangeHandler):
        def send_head(self):  # type: ignore[override]
            requests.append(self.headers.get("Range") or "")
            return super().send_head()

    server.RequestHandlerClass = lambda *a, **k: Logged(*a, directory=str(written.parent), **k)  # type: ignore[assignment]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{written.name}"
        got = pl.scan_parquet(url).filter(pl.col("region_code") == "25").collect()
    finally:
        server.shutdown()
        server.server_close()
    want = pl.read_parquet(written).filter(pl.col("region_code") == "25")
    assert got.equals(want) and got.height == 67 * 12
    assert all(r.startswith("bytes=") for r in requests), requests  # never the whole file
    size = written.stat().st_size
    data = [r for r in requests if not r.startswith("bytes=-")]  # past the footer (suffix) request
    fetched = sum(int(b) - int(a) + 1 for a, b in (r.removeprefix("bytes=").split("-") for r in data))
    assert 0 < fetched <= 0.05 * size, (requests, size)


def test_range_server_answers_206_416_and_whole_files(written: Path) -> None:
    import urllib.error
    import urllib.request

    server = make_server(written.parent, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/{written.name}"
    body = written.read_bytes()
    try:
        def get(rng: str | None):
            req = urllib.request.Request(base, headers={"Range": rng} if rng else {})
            with urllib.request.urlopen(req) as resp:
                return resp.status, resp.read(), resp.headers

        status, data, headers = get("bytes=4-9")
        assert status == 206 and data == body[4:10] and headers["Content-Range"] == f"bytes 4-9/{len(body)}"
        assert get("bytes=-8")[1] == body[-8:] and get(f"bytes={len(body) - 3}-")[1] == body[-3:]
        status, data, headers = get(None)
        assert status == 200 and data == body and headers["Accept-Ranges"] == "bytes"
        with pytest.raises(urllib.error.HTTPError) as err:
            get(f"bytes={len(body)}-")
        assert err.value.code == 416
    finally:
        server.shutdown()
        server.server_close()
