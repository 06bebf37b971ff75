"""Order-independent sums: a float sum depends on the order rows are added in, so the staged
tables sum in fixed point (rebuilds give identical content hashes)."""

from __future__ import annotations

import polars as pl


def exact_sum(e: pl.Expr) -> pl.Expr:
    """Sum at 1e-6 in fixed point: a float sum depends on the order rows are added in (threads),
    an integer sum does not, so rebuilds give identical tables (issue 15)."""
    micro = (e.cast(pl.Float64) * 1e6).round(0).cast(pl.Int64).sum()
    # back through Decimal: a float multiply/divide by 1e-6 would not round-trip (58.1 → 58.0999…)
    return micro.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, 6)).truediv(pl.lit(1_000_000, dtype=pl.Decimal(38, 0))).cast(pl.Float64)
