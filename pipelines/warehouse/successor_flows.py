"""How much of an old NAICS code's employment went to each of its successor codes (issue 19, the
constant-definition series): the flows on the concordance's links that the split weights of
pipelines/warehouse/timeseries.py rest on.

Only the two ends are observed: each old code's national employment in the LAST year of its
vintage, each successor's in the FIRST year of the next. A successor formed from several old codes
(a merge) must not be credited in full to each of them: 336612 Boat Building (2007) is 336612
(2002) plus a sliver of 326199 Plastics, so counting its whole employment for 326199 sent 11.5 % of
Plastics to Water Transportation. The flows are instead the table on the links whose column sums
are the successors' employment and whose row sums are the old codes' (iterative proportional
fitting from 1 on every link: the most even flows that fit both ends). A successor with one
predecessor goes to it whole; a merged successor goes to its predecessors by what fits their sizes
(an old code wholly inside the merge keeps its own size there, the code that split takes the
rest). The two years' totals differ: the fit ends on a column step, whose limit hands out every
successor's employment exactly and keeps each group of linked old codes in proportion to their
last-year sizes (growth shared in proportion). An old code without a row in its last year
(unknown, not zero) is not held to a size: it takes what the others leave of its successors. An
old code with zero jobs gets no flow (the caller then falls back on ``equal_share``). Successors
without employment in the first year take no flow.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MAX_ITERATIONS = 1000
# stop when no flow changes by more than this fraction of the largest flow in one sweep; where
# the ends fit only with some links at zero, the fit creeps towards zero there (by 1/sweeps):
# 1,000 sweeps leave the mirror's weights within 5e-4 of 10,000 sweeps' (cluster totals within 1e-6)
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
    deg = np.bincount(s, minlength=n_new)
    equal_share = e[s] / deg[s]
    flow = _fit(a, s, e, o, known)
    return df.select("naics", "successor").with_columns(flow=pl.Series(flow), equal_share=pl.Series(equal_share))


def _fit(a: np.ndarray, s: np.ndarray, e: np.ndarray, o: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Iterative proportional fitting from 1 on every link: columns to ``e``; rows with a known
    employment to ``o`` (others free); ends on a column step, so every successor's employment is
    handed out (where it has a predecessor with a positive row); negligible flows are zero."""
    every = np.ones(len(e), dtype=bool)
    o_known = np.where(known, o, 0.0)
    f = np.ones(len(a))
    for _ in range(MAX_ITERATIONS):
        before = f
        f = _scaled(_scaled(f, s, e, every), a, o_known, known)
        if np.abs(f - before).max() <= TOLERANCE * max(f.max(), 1.0):
            break
    f = _scaled(f, s, e, every)
    row = np.bincount(a, weights=f, minlength=len(o))
    return np.where(f < NEGLIGIBLE * row[a], 0.0, f)


def _scaled(f: np.ndarray, idx: np.ndarray, target: np.ndarray, held: np.ndarray) -> np.ndarray:
    """One fitting step: the flows of each group (``idx``) that is ``held`` and has flow, scaled to
    sum to its ``target``; other groups as they are."""
    total = np.bincount(idx, weights=f, minlength=len(target))
    factor = np.where(held & (total > 0), target / np.where(total > 0, total, 1.0), 1.0)
    return f * factor[idx]
