-- Backtest of the emerging flags on the published history: for each window (start year) and
-- horizon k, of the region × traded clusters not strong at the window's end (flag year), how
-- well each flag and the score pick those that became strong within k years.
-- Input: the emerging table of the same side (pipelines.warehouse.families creates it first, as
-- family_emerging_clusters) and family_panel. Parameters:
--   $bt_max_horizon   largest horizon k in years (5); a (flag year, k) row exists only when the
--                     panel has every year up to flag year + k (the outcome is observed).
-- Cohort: region × traded cluster rows with an emerging_rule value (not null: sound window, both
-- LQs) that are NOT strong at the flag year (a strong one cannot "become" strong).
-- became strong within k: strong in at least one year of (flag year, flag year + k].
-- n_flagged …, lift, lift_below: the published flag `emerging` (the default, em_flag).
-- lift = flagged_rate / base_rate (null when the base rate is 0). The unflagged cohort includes
-- rows with LQ ≥ 1 that only miss the size or percentile rules, which are closer to strong than any
-- row below LQ 1; base_rate_below and lift_below compare with the unflagged rows whose LQ at the
-- flag year is below $em_max_lq, the same side of the LQ line as the flagged ones.
-- Old rule against score (issue 19): auc_old_rule (emerging_rule as 0/1) and auc_score (score)
-- by the rank-sum (Mann–Whitney) formula, ties counted half:
--   AUC = (Σ average ranks of the rows that became strong − n₁(n₁ + 1)/2) / (n₁ · n₀)
-- = the probability that a row that became strong ranks above one that did not (0.5 = chance);
-- lift_old_rule / lift_score: the flag's became-strong rate over the rate of the rest of the
-- cohort. The *_oos columns pool every window of the region type × horizon whose flag year has a
-- score (the out-of-sample years: the score's weights come only from outcomes observed by the
-- flag year), over the same rows for both; they repeat on each row of that region type × horizon.
WITH cohort AS (
    SELECT region_type, region_code, cluster_code, window_start, window_end AS flag_year,
        emerging, emerging_rule, emerging_score, score,
        lq_end < $em_max_lq AS below
    FROM family_emerging_clusters
    WHERE emerging_rule IS NOT NULL AND NOT coalesce(strong_end, false)
),
years AS (
    SELECT DISTINCT year FROM family_panel
),
horizons AS (
    SELECT c.flag_year, k.horizon_years
    FROM (SELECT DISTINCT flag_year FROM cohort) AS c
    CROSS JOIN (SELECT unnest(range(1, $bt_max_horizon + 1)) AS horizon_years) AS k
    WHERE (SELECT count(*) FROM years AS y
           WHERE y.year > c.flag_year AND y.year <= c.flag_year + k.horizon_years) = k.horizon_years
),
first_strong AS (
    -- the first year after the flag year in which the row is strong
    SELECT c.region_type, c.region_code, c.cluster_code, c.flag_year, min(p.year) AS strong_year
    FROM cohort AS c
    JOIN family_panel AS p
        ON p.region_type = c.region_type AND p.region_code = c.region_code
        AND p.cluster_code = c.cluster_code AND p.year > c.flag_year AND p.strong
    GROUP BY ALL
),
outcomes AS (
    SELECT
        c.region_type, c.window_start, c.flag_year, h.horizon_years, c.emerging, c.below,
        c.emerging_rule, c.emerging_score, c.score,
        coalesce(f.strong_year <= c.flag_year + h.horizon_years, false) AS became_strong,
        -- the flag year has a score (weights fitted on earlier outcomes): out of sample
        bool_or(c.score IS NOT NULL) OVER (PARTITION BY c.region_type, c.flag_year) AS oos
    FROM cohort AS c
    JOIN horizons AS h USING (flag_year)
    LEFT JOIN first_strong AS f USING (region_type, region_code, cluster_code, flag_year)
),
-- the score ranks by the average rank of each row (ties half); the rule is 0 or 1, so its average
-- ranks follow from counts (rule_auc below): only the score's rows are sorted
ranked_values AS (
    SELECT region_type, window_start, horizon_years, oos, became_strong, score AS v
    FROM outcomes WHERE score IS NOT NULL
),
ranks_window AS (
    SELECT region_type, window_start, horizon_years, became_strong,
        rank() OVER w + (count(*) OVER (PARTITION BY region_type, window_start, horizon_years, v) - 1) / 2.0
            AS avg_rank
    FROM ranked_values
    WINDOW w AS (PARTITION BY region_type, window_start, horizon_years ORDER BY v)
),
ranks_oos AS (
    SELECT region_type, horizon_years, became_strong,
        rank() OVER w + (count(*) OVER (PARTITION BY region_type, horizon_years, v) - 1) / 2.0
            AS avg_rank
    FROM ranked_values
    WHERE oos
    WINDOW w AS (PARTITION BY region_type, horizon_years ORDER BY v)
),
auc_window AS (
    SELECT region_type, window_start, horizon_years, rank_sum_auc(avg_rank, became_strong) AS auc
    FROM ranks_window
    GROUP BY ALL
),
auc_oos AS (
    SELECT region_type, horizon_years, rank_sum_auc(avg_rank, became_strong) AS auc
    FROM ranks_oos
    GROUP BY ALL
),
-- the rule's rank-sum AUC (the same formula as rank_sum_auc): its n_lo rows of value 0 share the
-- average rank 1 + (n_lo − 1)/2, its n_hi rows of value 1 the rank n_lo + 1 + (n_hi − 1)/2; the
-- sum of the positives' ranks is then exact in any order, as the sum over the rows is
rule_counts AS (
    SELECT region_type, window_start, horizon_years, oos,
        count(*) FILTER (WHERE NOT emerging_rule) AS n_lo,
        count(*) FILTER (WHERE emerging_rule) AS n_hi,
        count(*) FILTER (WHERE NOT emerging_rule AND became_strong) AS pos_lo,
        count(*) FILTER (WHERE emerging_rule AND became_strong) AS pos_hi
    FROM outcomes
    GROUP BY ALL
),
rule_groups AS (
    SELECT region_type, window_start, horizon_years, sum(n_lo) AS n_lo, sum(n_hi) AS n_hi,
        sum(pos_lo) AS pos_lo, sum(pos_hi) AS pos_hi
    FROM rule_counts GROUP BY ALL
    UNION ALL
    -- the out-of-sample pool of the region type × horizon (window_start NULL)
    SELECT region_type, NULL, horizon_years, sum(n_lo), sum(n_hi), sum(pos_lo), sum(pos_hi)
    FROM rule_counts WHERE oos GROUP BY region_type, horizon_years
),
rule_auc AS (
    SELECT region_type, window_start, horizon_years,
        (pos_lo * (1 + (n_lo - 1) / 2.0) + pos_hi * (n_lo + 1 + (n_hi - 1) / 2.0)
            - (pos_lo + pos_hi) * (pos_lo + pos_hi + 1) / 2.0)
        / nullif((pos_lo + pos_hi) * (n_lo + n_hi - pos_lo - pos_hi), 0) AS auc
    FROM rule_groups
),
lift_oos AS (
    SELECT region_type, horizon_years,
        flag_lift(emerging_rule, became_strong) AS lift_old_rule_oos,
        flag_lift(emerging_score, became_strong) AS lift_score_oos,
        count(*) AS n_oos,
        count(*) FILTER (WHERE became_strong) AS n_oos_became_strong
    FROM outcomes
    WHERE oos
    GROUP BY ALL
),
agg AS (
    SELECT
        region_type, window_start, flag_year, horizon_years,
        count(*) FILTER (WHERE emerging) AS n_flagged,
        count(*) FILTER (WHERE emerging AND became_strong) AS n_flagged_became_strong,
        count(*) FILTER (WHERE NOT emerging) AS n_unflagged,
        count(*) FILTER (WHERE NOT emerging AND became_strong) AS n_unflagged_became_strong,
        count(*) FILTER (WHERE NOT emerging AND below) AS n_unflagged_below,
        count(*) FILTER (WHERE NOT emerging AND below AND became_strong) AS n_unflagged_below_became_strong,
        count(*) FILTER (WHERE score IS NOT NULL) AS n_scored,
        flag_lift(emerging_rule, became_strong) AS lift_old_rule,
        flag_lift(emerging_score, became_strong) AS lift_score
    FROM outcomes
    GROUP BY ALL
)
SELECT
    a.region_type,
    a.window_start,
    a.flag_year,
    a.horizon_years,
    a.n_flagged,
    a.n_flagged_became_strong,
    a.n_flagged_became_strong / nullif(a.n_flagged, 0) AS flagged_rate,
    a.n_unflagged,
    a.n_unflagged_became_strong,
    a.n_unflagged_became_strong / nullif(a.n_unflagged, 0) AS base_rate,
    (a.n_flagged_became_strong / nullif(a.n_flagged, 0))
        / nullif(a.n_unflagged_became_strong / nullif(a.n_unflagged, 0), 0) AS lift,
    a.n_unflagged_below,
    a.n_unflagged_below_became_strong,
    a.n_unflagged_below_became_strong / nullif(a.n_unflagged_below, 0) AS base_rate_below,
    (a.n_flagged_became_strong / nullif(a.n_flagged, 0))
        / nullif(a.n_unflagged_below_became_strong / nullif(a.n_unflagged_below, 0), 0) AS lift_below,
    a.n_scored,
    wr.auc AS auc_old_rule,
    ws.auc AS auc_score,
    a.lift_old_rule,
    a.lift_score,
    o.n_oos,
    o.n_oos_became_strong,
    orr.auc AS auc_old_rule_oos,
    os.auc AS auc_score_oos,
    o.lift_old_rule_oos,
    o.lift_score_oos
FROM agg AS a
LEFT JOIN rule_auc AS wr
    ON wr.region_type = a.region_type AND wr.window_start = a.window_start
    AND wr.horizon_years = a.horizon_years
LEFT JOIN auc_window AS ws
    ON ws.region_type = a.region_type AND ws.window_start = a.window_start
    AND ws.horizon_years = a.horizon_years
LEFT JOIN lift_oos AS o ON o.region_type = a.region_type AND o.horizon_years = a.horizon_years
LEFT JOIN rule_auc AS orr
    ON orr.region_type = a.region_type AND orr.horizon_years = a.horizon_years AND orr.window_start IS NULL
LEFT JOIN auc_oos AS os
    ON os.region_type = a.region_type AND os.horizon_years = a.horizon_years
