"""The emerging score (issue 19): which region × traded clusters, not strong at a flag year, become
strong. The inputs are what the literature finds predicts a region's move into an activity —
relatedness density (Hidalgo et al. 2007; Neffke, Henning & Boschma 2011), the LQ trend, size,
growth against the reference and the LQ already reached — as percent ranks within region type ×
flag year (sql/families/emerging_features.sql). Their weights are a logistic regression fitted
walk-forward: the weights a flag year t is scored with come only from flag years f whose outcome
(strong within ``em_fit_horizon`` years) is observed by t, i.e. f + horizon ≤ t. A flag year with
no such history gets no score. The rule that turns scores into flags stays in SQL
(sql/families/emerging.sql); the backtest (sql/families/emerging_backtest.sql) evaluates both the
stated rule and the score on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.warehouse.sql import SqlRunner

# Named parameters of the emerging family (merged into FAMILY_PARAMS; every release records them).
EMERGING_PARAMS: dict[str, Any] = {
    # the stated rule (sql/families/emerging_features.sql)
    "em_window_years": 5,
    "em_max_lq": 1.0,
    "em_min_lq_rise": 0.10,
    "em_min_growth_excess": 0.0,
    "em_min_emp": 250.0,
    # the score: outcome horizon of the fit, L2 penalty of the logistic regression (on the
    # non-intercept weights), the share of a region type × flag year's cohort it flags
    "em_fit_horizon": 1,
    "em_fit_ridge": 1.0,
    "em_score_top_share": 0.10,
    # which flag is published as `emerging`: 'rule' (the stated rule) or 'score'; chosen by the
    # out-of-sample backtest (see README and the release's emerging note)
    "em_flag": "score",
    "em_flag_reason": (
        "score: out of sample (emerging_backtest, *_oos) the score ranks the region x clusters "
        "that became strong far above chance and its flags became strong several times as often "
        "as the rest, while the stated rule ranks them below chance (AUC < 0.5, lift < 1) on every "
        "region type and horizon measured on the mirror, US and EU; nearly all the score's power "
        "is the LQ already reached, so its flags are mostly clusters at LQ >= 1 not yet strong"
    ),
    # the backtest (sql/families/emerging_backtest.sql)
    "bt_max_horizon": 5,
}
FEATURES = ("density", "lq_trend", "size", "growth", "lq")
WEIGHT_SCHEMA = {
    "flag_year": pl.Int32,
    "n_train": pl.Int64,
    "n_train_positive": pl.Int64,
    "w_intercept": pl.Float64,
    **{f"w_{f}": pl.Float64 for f in FEATURES},
}


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float, iterations: int = 50) -> np.ndarray:
    """Intercept + weights of a ridge-penalised logistic regression by Newton's method (IRLS)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], float(ridge))
    penalty[0] = 0.0
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (y - prob) - penalty * beta
        hess = (design * (prob * (1 - prob))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def fit_weights(outcomes: pl.DataFrame, horizon: int, ridge: float) -> pl.DataFrame:
    """Walk-forward weights, one row per flag year t of `outcomes` (the frame of
    sql/families/emerging_outcomes.sql) with a usable history: trained on the rows of flag years
    f ≤ t − horizon, label = strong within (f, f + horizon]. Outcomes after t never enter."""
    rows = []
    labelled = outcomes.with_columns(
        (pl.col("strong_year").is_not_null() & (pl.col("strong_year") <= pl.col("flag_year") + horizon))
        .alias("label")
    )
    for t in sorted(outcomes["flag_year"].unique().to_list()):
        train = labelled.filter(pl.col("flag_year") + horizon <= t)
        positives = int(train["label"].sum()) if train.height else 0
        if positives == 0 or positives == train.height:
            continue
        x = train.select([f"pct_{f}" for f in FEATURES]).to_numpy().astype(float)
        beta = fit_logistic(x, train["label"].to_numpy().astype(float), ridge)
        rows.append(
            {
                "flag_year": t,
                "n_train": train.height,
                "n_train_positive": positives,
                "w_intercept": float(beta[0]),
                **{f"w_{f}": float(b) for f, b in zip(FEATURES, beta[1:], strict=True)},
            }
        )
    return pl.DataFrame(rows, schema=WEIGHT_SCHEMA)


def prepare_emerging(
    con: duckdb.DuckDBPyConnection, runner: SqlRunner, params: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """TEMP tables family_emerging_features and family_emerging_weights, read by
    sql/families/emerging.sql; returns the weights (also for the release notes)."""
    p = {**runner.defaults, **(params or {})}
    if p["em_flag"] not in ("rule", "score"):
        raise ValueError(f"em_flag must be 'rule' or 'score', not {p['em_flag']!r}")
    runner.create_table(con, "family_emerging_features", "families/emerging_features", params, temp=True)
    outcomes = runner.fetch(con, "families/emerging_outcomes", params)
    weights = fit_weights(outcomes, int(p["em_fit_horizon"]), float(p["em_fit_ridge"]))
    con.register("emerging_weights_frame", weights.to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE family_emerging_weights AS SELECT * FROM emerging_weights_frame")
    con.unregister("emerging_weights_frame")
    return weights
