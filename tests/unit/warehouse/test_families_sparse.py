"""Co-location relatedness and density when regions lack cells (issue 22): the families count
only the cells a region has (sql/families/cluster_relatedness.sql, relatedness_density.sql), and
since issue 22 they reach those counts by correcting whole-type sums for the cells a region lacks
or repeats. Checked here against a brute-force count over the cells, on a sparse random matrix
with a pair no region has both of and a cell listed twice."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipelines.warehouse.families import build_families
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.families_data import connection, indicator_rows

N_REGIONS, N_CLUSTERS = 30, 8


def _matrix() -> np.ndarray:
    """-1 = no row for the cell, 0 = not held (LQ 0.5), 1 = held (LQ 2)."""
    rng = np.random.default_rng(22)
    m = np.where(rng.random((N_REGIONS, N_CLUSTERS)) < 0.4, 1, 0)
    m[rng.random((N_REGIONS, N_CLUSTERS)) < 0.25] = -1
    m[:, 7] = np.where(m[:, 6] == -1, 1, -1)  # clusters 7 and 8 never share a region
    m[0, :6] = (1, 0, 1, -1, 1, 0)
    m[29, :] = (-1, -1, -1, -1, -1, -1, -1, 1)  # one cell: nothing related to weigh its density
    return m


def _build(m: np.ndarray, duplicate: tuple[str, str]):
    emp = {}
    lq = {}
    for r, c in itertools.product(range(N_REGIONS), range(N_CLUSTERS)):
        if m[r, c] >= 0:
            key = (f"R{r:02d}", str(c + 1))
            emp[key], lq[key] = [100.0], [2.0 if m[r, c] else 0.5]
    rows = indicator_rows(emp, [2010], lq=lq)
    rows = rows.vstack(
        rows.filter((rows["region_code"] == duplicate[0]) & (rows["cluster_code"] == duplicate[1]))
    )
    con = connection("cluster_indicators", rows)
    build_families(con, "us")
    return con


def _cells(m: np.ndarray, duplicate: tuple[str, str]) -> dict[tuple[int, int], list[int]]:
    """(region, cluster) → the held flags of its rows (a repeated row counts twice, as in a join)."""
    cells = {
        (r, c): [int(m[r, c])]
        for r, c in itertools.product(range(N_REGIONS), range(N_CLUSTERS))
        if m[r, c] >= 0
    }
    r, c = int(duplicate[0][1:]), int(duplicate[1]) - 1
    cells[(r, c)] = cells[(r, c)] * 2
    return cells


def test_counts_and_density_over_the_cells_a_region_has():
    m = _matrix()
    dup = ("R00", "1")
    con = _build(m, dup)
    cells = _cells(m, dup)
    expected = {}
    for i, j in itertools.permutations(range(N_CLUSTERS), 2):
        n = [0, 0, 0, 0]  # n_regions, n_cluster, n_related, n_both
        for r in range(N_REGIONS):
            for a in cells.get((r, i), []):
                for b in cells.get((r, j), []):
                    n = [n[0] + 1, n[1] + a, n[2] + b, n[3] + a * b]
        if n[0]:
            expected[(str(i + 1), str(j + 1))] = tuple(n)
    got = {
        (r["cluster_code"], r["related_cluster_code"]): (
            r["n_regions"],
            r["n_cluster"],
            r["n_related"],
            r["n_both"],
        )
        for r in fetch_frame(con, "SELECT * FROM cluster_relatedness").to_dicts()
    }
    assert ("7", "8") not in got and got == expected
    phi = {k: n[3] / max(n[1], n[2]) if max(n[1], n[2]) else None for k, n in expected.items()}
    dens = {
        (r["region_code"], r["cluster_code"]): r
        for r in fetch_frame(con, "SELECT * FROM relatedness_density").to_dicts()
    }
    for r, i in cells:
        num = den = 0.0
        n_present, any_row = 0, False
        for j in range(N_CLUSTERS):
            w = phi.get((str(i + 1), str(j + 1)))
            if j == i or (str(i + 1), str(j + 1)) not in phi:
                continue
            for b in cells.get((r, j), []):
                any_row = True
                num, den = num + w * b, den + w
                n_present += int(b == 1 and w > 0)
        row = dens[(f"R{r:02d}", str(i + 1))]
        if not any_row:
            assert row["density"] is None and row["n_related_present"] is None
            continue
        assert row["n_related_present"] == n_present
        assert row["density"] == (pytest.approx(num / den, abs=1e-9) if den else None)
    n_rows = con.execute("SELECT count(*) FROM relatedness_density").fetchall()[0][0]
    assert n_rows == len(cells) + 1  # the repeated cell has two rows
