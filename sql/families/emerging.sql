-- Emerging clusters: LQ level × LQ change quadrants per region × cluster × window, employment
-- growth against the reference's growth in the cluster, the stated emerging rule, the emerging
-- score and the published flag.
-- Inputs: family_emerging_features (sql/families/emerging_features.sql: levels, growth, the rule,
-- the score's inputs as percent ranks) and family_emerging_weights (the walk-forward logistic
-- weights per flag year, pipelines/warehouse/emerging_score.py). Parameters (defaults in
-- pipelines/warehouse/emerging_score.py, EMERGING_PARAMS):
--   $em_window_years        window length (5): every window (y, y + length) inside the years
--   $em_max_lq              LQ at the window's end must be below this (1.0: the "rising below 1"
--                           quadrant; strong clusters need LQ ≥ 1)
--   $em_min_lq_rise         relative LQ rise over the window: lq_end ≥ lq_start × (1 + rise) (0.10)
--   $em_min_growth_excess   employment growth minus the reference's growth in the cluster must
--                           exceed this (0.0, in growth-rate points over the window)
--   $em_min_emp             minimum employment at the window's end (250)
--   $em_score_top_share     the score flags this share of a region type × flag year's cohort (0.10)
--   $em_flag                the flag published as `emerging`: 'rule' or 'score'
-- Quadrant (by $em_max_lq and the sign of the LQ change; no change counts as falling):
--   'rising above', 'falling above', 'rising below' (the emerging quadrant), 'falling below'.
-- emerging_rule (traded clusters; null for local clusters, without both LQs, or when the window
-- does not start at a sound base / end at a usable row — growth_basis says why):
--   not strong at the window's end AND lq_end < $em_max_lq AND lq_end > lq_start
--   AND lq_end ≥ lq_start × (1 + $em_min_lq_rise) AND emp_growth − reference_growth >
--   $em_min_growth_excess AND emp_end ≥ $em_min_emp.
-- score: fitted probability of becoming strong, sigmoid(w0 + Σ w_f × pct_f), with the weights of
-- the flag year (fitted only on outcomes observed by then); null outside the cohort (strong at the
-- window's end, unsound, local) and for flag years without a fit history.
-- emerging_score: the cohort rows in the top $em_score_top_share of the region type × flag
-- year by score (cume_dist); false for strong rows; null where score is null (except strong rows).
-- reference_growth: the reference's employment in the cluster over the reference cells present
-- at both ends (as in sql/families/shift_share.sql); vintage_break only where the definitions
-- differ AND the definition effect is material at either end (PANEL.md).
WITH scored AS (
    SELECT
        f.*,
        CASE WHEN f.in_cohort AND w.flag_year IS NOT NULL THEN
            1 / (1 + exp(-(w.w_intercept + w.w_density * f.pct_density + w.w_lq_trend * f.pct_lq_trend
                + w.w_size * f.pct_size + w.w_growth * f.pct_growth + w.w_lq * f.pct_lq)))
        END AS score
    FROM family_emerging_features AS f
    LEFT JOIN family_emerging_weights AS w ON w.flag_year = f.window_end
),
flagged AS (
    SELECT
        *,
        CASE
            WHEN emerging_rule IS NULL THEN NULL
            WHEN coalesce(strong_end, false) THEN false
            WHEN score IS NULL THEN NULL
            ELSE cume_dist() OVER (
                PARTITION BY region_type, window_end, score IS NULL ORDER BY score DESC
            ) <= $em_score_top_share
        END AS emerging_score
    FROM scored
)
SELECT
    region_type,
    region_code,
    cluster_code,
    CASE WHEN traded THEN 'traded' ELSE 'local' END AS cluster_type,
    window_start,
    window_end,
    vintage_break,
    growth_basis,
    emp_start,
    emp_end,
    lq_start,
    lq_end,
    lq_change,
    CASE
        WHEN lq_start IS NULL OR lq_end IS NULL THEN NULL
        WHEN lq_end >= $em_max_lq AND lq_end > lq_start THEN 'rising above'
        WHEN lq_end >= $em_max_lq THEN 'falling above'
        WHEN lq_end > lq_start THEN 'rising below'
        ELSE 'falling below'
    END AS quadrant,
    emp_growth,
    reference_growth,
    growth_excess,
    strong_start,
    strong_end,
    density,
    score,
    emerging_rule,
    emerging_score,
    CASE WHEN $em_flag = 'score' THEN emerging_score ELSE emerging_rule END AS emerging
FROM flagged
