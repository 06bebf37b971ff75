"""How much of an old NAICS code's employment went to each of its successor codes (issue 19, the
constant-definition series): the flows on the concordance's links that the split weights of
pipelines/warehouse/timeseries.py rest on.

Only the two ends are observed: each old code's national employment in the LAST year of its
vintage, each successor's in the FIRST year of the next. A successor formed from several old codes
(a merge) must not be credited in full to each of them: 336612 Boat Building (2007) is 336612
(2002) plus a sliver of 326199 Plastics, so counting its whole employment for 326199 sent 11.5 % of
Plastics to Water Transportation. The flows are instead the table on the links whose column sums
are the successors' employment and whose row sums are the old codes' (iterative proportional
fitting from 1 on every link, i.e. the most even flows that fit both ends): a successor with one
predecessor goes to it whole, and a merge goes to each predecessor by what the predecessor's other
successors leave of it (an old code wholly inside the merge takes its own size, the rest goes to
the code that split). The two years' totals differ, so within each group of linked codes the
successors' employment is first scaled to the old codes' sum. An old code without employment in
its last year (no row: unknown, not zero) is not held to a row sum; its flows are the equal shares
of the column step. Successors without employment in the first year take no flow.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MAX_ITERATIONS = 1000
# stop when no flow changes by more than this fraction of the largest flow in one sweep; where
# the two ends cannot both be met (an unknown or too small old code), the fit creeps towards zero
# flows on some links: 1,000 sweeps leave the mirror's weights within 5e-4 of 10,000 sweeps'
TOLERANCE = 1e-12
# a flow under this fraction of its old code's total is the fit creeping to zero: zero
NEGLIGIBLE = 1e-9


def successor_flows(links: pl.DataFrame, new_emp: pl.DataFrame, old_emp: pl.DataFrame) -> pl.DataFrame:
    """Per link (``naics`` old → ``successor``) the estimated ``flow`` of employment (see the module
    doc) and ``equal_share`` (the successor's employment split equally over its predecessors, the
    column step alone: the basis of an old code whose fitted flows are all zero).

    links: naics, successor (unique pairs); new_emp: successor, emp (first year of the successor
    vintage); old_emp: naics, emp (last year of the old vintage; may be empty)."""
    df = (
        links.join(new_emp.select("successor", pl.col("emp").alias("e")), on="successor", how="inner")
        .join(old_emp.select("naics", pl.col("emp").alias("o")), on="naics", how="left")
        .sort("naics", "successor")
    )
    if df.height == 0:
        return df.select("naics", "successor", flow=pl.lit(0.0), equal_share=pl.lit(0.0))
    a = df["naics"].rank("dense").cast(pl.Int64).to_numpy() - 1
    s = df["successor"].rank("dense").cast(pl.Int64).to_numpy() - 1
    n_old, n_new = int(a.max()) + 1, int(s.max()) + 1
    e = np.zeros(n_new)
    e[s] = df["e"].fill_null(0.0).to_numpy()
    o = np.full(n_old, np.nan)
    o[a] = df["o"].fill_null(np.nan).to_numpy()
    known = ~np.isnan(o)
    e = _scaled_to_old_totals(a, s, e, np.where(known, o, 0.0), known)
    deg = np.bincount(s, minlength=n_new)
    equal_share = e[s] / deg[s]
    flow = _fit(a, s, e, o, known)
    return df.select("naics", "successor").with_columns(flow=pl.Series(flow), equal_share=pl.Series(equal_share))


def _components(a: np.ndarray, s: np.ndarray, n_old: int, n_new: int) -> np.ndarray:
    """Connected group of each link (old and new codes linked through the concordance)."""
    lab_old, lab_new = np.arange(n_old), np.arange(n_new) + n_old
    while True:
        link = np.minimum(lab_old[a], lab_new[s])
        new_old, new_new = lab_old.copy(), lab_new.copy()
        np.minimum.at(new_old, a, link)
        np.minimum.at(new_new, s, link)
        if np.array_equal(new_old, lab_old) and np.array_equal(new_new, lab_new):
            return link
        lab_old, lab_new = new_old, new_new


def _scaled_to_old_totals(a: np.ndarray, s: np.ndarray, e: np.ndarray, o: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Successor employment scaled, per group of linked codes whose old codes all have a known
    employment, to the old codes' sum (the years differ; both ends must add up for a fit)."""
    n_old, n_new = len(o), len(e)
    comp = _components(a, s, n_old, n_new)
    n = n_old + n_new
    comp_old = np.full(n_old, -1)
    comp_old[a] = comp
    comp_new = np.full(n_new, -1)
    comp_new[s] = comp
    old_sum = np.bincount(comp_old, weights=o, minlength=n)
    new_sum = np.bincount(comp_new, weights=e, minlength=n)
    all_known = np.bincount(comp_old, weights=(~known).astype(float), minlength=n) == 0
    factor = np.where(all_known & (new_sum > 0) & (old_sum > 0), old_sum / np.where(new_sum > 0, new_sum, 1.0), 1.0)
    return e * factor[comp_new]


def _fit(a: np.ndarray, s: np.ndarray, e: np.ndarray, o: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Iterative proportional fitting from 1 on every link: columns to ``e``; rows with a known
    employment to ``o`` (others free); ends on a column step, so every successor's employment is
    handed out (where it has a predecessor with a positive row); negligible flows are zero."""
    f = np.ones(len(a))
    for _ in range(MAX_ITERATIONS):
        before = f.copy()
        col = np.bincount(s, weights=f, minlength=len(e))
        f *= np.where(col > 0, e / np.where(col > 0, col, 1.0), 1.0)[s]
        row = np.bincount(a, weights=f, minlength=len(o))
        f *= np.where(known & (row > 0), np.where(known, o, 0.0) / np.where(row > 0, row, 1.0), 1.0)[a]
        if np.abs(f - before).max() <= TOLERANCE * max(f.max(), 1.0):
            break
    col = np.bincount(s, weights=f, minlength=len(e))
    f *= np.where(col > 0, e / np.where(col > 0, col, 1.0), 1.0)[s]
    row = np.bincount(a, weights=f, minlength=len(o))
    return np.where(f < NEGLIGIBLE * row[a], 0.0, f)
