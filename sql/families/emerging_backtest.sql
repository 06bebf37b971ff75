-- Backtest of the emerging rule on the published history: for each window (start year) and
-- horizon k, of the region × traded clusters flagged emerging at the window's end (flag year),
-- the share that became strong within k years, against the base rate of the unflagged ones.
-- Input: the emerging table of the same side (pipelines.warehouse.families creates it first, as
-- family_emerging_clusters) and family_panel. Parameters:
--   $bt_max_horizon   largest horizon k in years (5); a (flag year, k) row exists only when the
--                     panel has every year up to flag year + k (the outcome is observed).
-- Cohort: region × traded cluster rows with an emerging value (not null) that are NOT strong at
-- the flag year (a strong one cannot "become" strong). Flagged: emerging; unflagged: the rest.
-- became strong within k: strong in at least one year of (flag year, flag year + k].
-- lift = flagged_rate / base_rate (null when the base rate is 0). The unflagged cohort includes
-- rows with LQ ≥ 1 that only miss the size or percentile rules, which are closer to strong than any
-- row below LQ 1; base_rate_below and lift_below compare with the unflagged rows whose LQ at the
-- flag year is below $em_max_lq, the same side of the LQ line as the flagged ones.
WITH cohort AS (
    SELECT region_type, region_code, cluster_code, window_start, window_end AS flag_year, emerging,
        lq_end < $em_max_lq AS below
    FROM family_emerging_clusters
    WHERE emerging IS NOT NULL AND NOT coalesce(strong_end, false)
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
        coalesce(f.strong_year <= c.flag_year + h.horizon_years, false) AS became_strong
    FROM cohort AS c
    JOIN horizons AS h USING (flag_year)
    LEFT JOIN first_strong AS f USING (region_type, region_code, cluster_code, flag_year)
),
agg AS (
    SELECT
        region_type, window_start, flag_year, horizon_years,
        count(*) FILTER (WHERE emerging) AS n_flagged,
        count(*) FILTER (WHERE emerging AND became_strong) AS n_flagged_became_strong,
        count(*) FILTER (WHERE NOT emerging) AS n_unflagged,
        count(*) FILTER (WHERE NOT emerging AND became_strong) AS n_unflagged_became_strong,
        count(*) FILTER (WHERE NOT emerging AND below) AS n_unflagged_below,
        count(*) FILTER (WHERE NOT emerging AND below AND became_strong) AS n_unflagged_below_became_strong
    FROM outcomes
    GROUP BY ALL
)
SELECT
    region_type,
    window_start,
    flag_year,
    horizon_years,
    n_flagged,
    n_flagged_became_strong,
    n_flagged_became_strong / nullif(n_flagged, 0) AS flagged_rate,
    n_unflagged,
    n_unflagged_became_strong,
    n_unflagged_became_strong / nullif(n_unflagged, 0) AS base_rate,
    (n_flagged_became_strong / nullif(n_flagged, 0))
        / nullif(n_unflagged_became_strong / nullif(n_unflagged, 0), 0) AS lift,
    n_unflagged_below,
    n_unflagged_below_became_strong,
    n_unflagged_below_became_strong / nullif(n_unflagged_below, 0) AS base_rate_below,
    (n_flagged_became_strong / nullif(n_flagged, 0))
        / nullif(n_unflagged_below_became_strong / nullif(n_unflagged_below, 0), 0) AS lift_below
FROM agg
