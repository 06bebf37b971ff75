-- Emerging clusters, step 1 (issue 19): every region × cluster × window of $em_window_years with
-- its levels, growth against the reference, the stated (old) emerging rule and the emerging
-- score's inputs, all as of the window's end (the flag year). Nothing after the flag year enters
-- a row: the LQs, the relatedness density (sql/families/relatedness_density.sql, φ and M of the
-- flag year) and the percentiles are of the window's years only.
-- Inputs: family_panel (sql/families/panel.sql), family_relatedness_density.
-- Parameters (defaults in pipelines/warehouse/emerging_score.py, EMERGING_PARAMS):
--   $em_window_years, $em_max_lq, $em_min_lq_rise, $em_min_growth_excess, $em_min_emp (see emerging.sql)
-- Sound bases (PANEL.md): growth rates and every flag only when the window starts at a sound
-- row (a.sound) and ends at a usable one (b.sound_end); else levels kept, rates and flags NULL,
-- growth_basis = the start's basis, or 'partial_coverage' for the end.
-- Europe: LQs of a window are re-expressed against the reference regions (the countries) present
-- at BOTH ends: lq × (year's reference share) / (common share), share = the cluster's employment
-- over the traded (local) employment of those countries, the LQ's own base. Where the year's
-- reference regions are all present at both ends (US: the national row or the states) the LQs are
-- the published ones. reference_growth: over the reference cells present and covered at both
-- ends, per cluster (as sql/families/shift_share.sql).
-- In the cohort (traded, sound, both LQs, not strong at the flag year) each score input gets its
-- percent rank within region type × flag year (pct_*; 0.5 when the input is NULL):
--   density     relatedness density of the cluster in the region (Hidalgo et al. 2007)
--   lq_trend    lq_end / lq_start − 1 over the window
--   size        emp_end
--   growth      growth_excess (employment growth − the reference's growth in the cluster)
--   lq          lq_end (how near the region already is)
WITH p AS (
    SELECT * FROM family_panel WHERE region_type <> 'country'
),
windows AS (
    SELECT y AS window_start, y + $em_window_years AS window_end
    FROM (
        SELECT unnest(range(min(year), max(year) - $em_window_years + 1)) AS y FROM family_panel
    )
    WHERE $em_window_years > 0
),
-- reference growth: the reference cells (is_ref) present and covered at both ends, per cluster
-- (as sql/families/shift_share.sql)
ref_common AS (
    SELECT
        w.window_start, a.cluster_code,
        xsum(a.emp) AS ref_emp_start, xsum(b.emp) AS ref_emp_end
    FROM windows AS w
    JOIN family_panel AS a ON a.year = w.window_start AND a.is_ref
    JOIN family_panel AS b ON b.year = w.window_end AND b.is_ref AND b.region_type = a.region_type
        AND b.region_code = a.region_code AND b.cluster_code = a.cluster_code
    WHERE a.sound_end AND b.sound_end
    GROUP BY ALL
),
ref_win AS (
    SELECT *, ref_emp_end / nullif(ref_emp_start, 0) - 1 AS reference_growth FROM ref_common
),
-- window LQs: the reference regions (countries) present at both ends of the window
ref_cells AS (
    SELECT year, region_type, region_code, cluster_code, traded, emp, region_base_emp
    FROM family_panel WHERE is_ref
),
ref_regions AS (
    SELECT DISTINCT year, region_type, region_code FROM ref_cells
),
common AS (
    SELECT w.window_start, a.year, a.region_type, a.region_code
    FROM windows AS w
    JOIN ref_regions AS a ON a.year IN (w.window_start, w.window_end)
    JOIN ref_regions AS b ON b.year = CASE WHEN a.year = w.window_start THEN w.window_end ELSE w.window_start END
        AND b.region_type = a.region_type AND b.region_code = a.region_code
),
common_base AS (
    SELECT c.window_start, c.year, r.traded, xsum(r.region_base_emp) AS base_emp
    FROM common AS c
    JOIN (SELECT DISTINCT year, region_type, region_code, traded, region_base_emp FROM ref_cells) AS r
        USING (year, region_type, region_code)
    GROUP BY ALL
),
common_share AS (
    -- the cluster's share of the common regions' traded (local) employment, and whether the
    -- common regions are all of the year's reference regions (then the published LQ stands)
    SELECT
        c.window_start, c.year, r.cluster_code,
        xsum(r.emp) / nullif(any_value(b.base_emp), 0) AS share,
        count(DISTINCT c.region_code) = any_value(n.n_regions) AS same
    FROM common AS c
    JOIN ref_cells AS r USING (year, region_type, region_code)
    JOIN common_base AS b ON b.window_start = c.window_start AND b.year = c.year AND b.traded = r.traded
    JOIN (SELECT year, count(*) AS n_regions FROM ref_regions GROUP BY year) AS n ON n.year = c.year
    GROUP BY ALL
),
ends AS (
    SELECT
        a.region_type, a.region_code, a.cluster_code, a.traded,
        w.window_start, w.window_end,
        a.vintage <> b.vintage AND (a.definition_material OR b.definition_material) AS vintage_break,
        a.sound AND b.sound_end AS sound_window,
        CASE WHEN NOT a.sound THEN a.basis WHEN NOT b.sound_end THEN 'partial_coverage' ELSE 'ok' END
            AS growth_basis,
        a.emp AS emp_start, b.emp AS emp_end,
        CASE WHEN s0.same THEN a.lq
            ELSE a.lq * (a.ref_emp / nullif(a.ref_base_emp, 0)) / nullif(s0.share, 0) END AS lq_start,
        CASE WHEN s1.same THEN b.lq
            ELSE b.lq * (b.ref_emp / nullif(b.ref_base_emp, 0)) / nullif(s1.share, 0) END AS lq_end,
        a.strong AS strong_start, b.strong AS strong_end,
        b.emp / nullif(a.emp, 0) - 1 AS emp_growth,
        r.reference_growth
    FROM windows AS w
    JOIN p AS a ON a.year = w.window_start
    JOIN p AS b ON b.year = w.window_end AND b.region_type = a.region_type
        AND b.region_code = a.region_code AND b.cluster_code = a.cluster_code
    LEFT JOIN ref_win AS r ON r.window_start = w.window_start AND r.cluster_code = a.cluster_code
    LEFT JOIN common_share AS s0
        ON s0.window_start = w.window_start AND s0.year = w.window_start AND s0.cluster_code = a.cluster_code
    LEFT JOIN common_share AS s1
        ON s1.window_start = w.window_start AND s1.year = w.window_end AND s1.cluster_code = a.cluster_code
),
rows AS (
    SELECT
        e.region_type, e.region_code, e.cluster_code, e.traded, e.window_start, e.window_end,
        e.vintage_break, e.growth_basis, e.emp_start, e.emp_end, e.lq_start, e.lq_end,
        e.lq_end - e.lq_start AS lq_change,
        CASE WHEN e.sound_window THEN e.emp_growth END AS emp_growth,
        e.reference_growth,
        CASE WHEN e.sound_window THEN e.emp_growth - e.reference_growth END AS growth_excess,
        e.strong_start, e.strong_end,
        CASE
            WHEN NOT e.traded OR e.lq_start IS NULL OR e.lq_end IS NULL OR NOT e.sound_window THEN NULL
            ELSE coalesce(
                NOT coalesce(e.strong_end, false)
                AND e.lq_end < $em_max_lq
                AND e.lq_end > e.lq_start
                AND e.lq_end >= e.lq_start * (1 + $em_min_lq_rise)
                AND e.emp_growth - e.reference_growth > $em_min_growth_excess
                AND e.emp_end >= $em_min_emp,
                false
            )
        END AS emerging_rule,
        d.density,
        e.traded AND e.sound_window AND e.lq_start IS NOT NULL AND e.lq_end IS NOT NULL
            AND NOT coalesce(e.strong_end, false) AS in_cohort
    FROM ends AS e
    LEFT JOIN family_relatedness_density AS d
        ON d.year = e.window_end AND d.region_type = e.region_type
        AND d.region_code = e.region_code AND d.cluster_code = e.cluster_code
),
inputs AS (
    SELECT
        *,
        density AS x_density,
        lq_end / nullif(lq_start, 0) - 1 AS x_lq_trend,
        emp_end AS x_size,
        growth_excess AS x_growth,
        lq_end AS x_lq
    FROM rows
),
-- percent ranks within the cohort of the region type × flag year (NULL input: 0.5), windowed over
-- the cohort's rows and the five inputs only (a window over the full rows carries every column
-- through its sorts), then joined back by the row's key
cohort_ranks AS (
    SELECT
        region_type, region_code, cluster_code, window_end,
        CASE WHEN x_density IS NOT NULL THEN percent_rank() OVER (
            PARTITION BY region_type, window_end, x_density IS NULL ORDER BY x_density) END AS r_density,
        CASE WHEN x_lq_trend IS NOT NULL THEN percent_rank() OVER (
            PARTITION BY region_type, window_end, x_lq_trend IS NULL ORDER BY x_lq_trend) END AS r_lq_trend,
        CASE WHEN x_size IS NOT NULL THEN percent_rank() OVER (
            PARTITION BY region_type, window_end, x_size IS NULL ORDER BY x_size) END AS r_size,
        CASE WHEN x_growth IS NOT NULL THEN percent_rank() OVER (
            PARTITION BY region_type, window_end, x_growth IS NULL ORDER BY x_growth) END AS r_growth,
        CASE WHEN x_lq IS NOT NULL THEN percent_rank() OVER (
            PARTITION BY region_type, window_end, x_lq IS NULL ORDER BY x_lq) END AS r_lq
    FROM inputs
    WHERE in_cohort
)
SELECT
    i.* EXCLUDE (x_density, x_lq_trend, x_size, x_growth, x_lq),
    i.x_lq_trend AS lq_trend,
    CASE WHEN i.in_cohort THEN coalesce(c.r_density, 0.5) END AS pct_density,
    CASE WHEN i.in_cohort THEN coalesce(c.r_lq_trend, 0.5) END AS pct_lq_trend,
    CASE WHEN i.in_cohort THEN coalesce(c.r_size, 0.5) END AS pct_size,
    CASE WHEN i.in_cohort THEN coalesce(c.r_growth, 0.5) END AS pct_growth,
    CASE WHEN i.in_cohort THEN coalesce(c.r_lq, 0.5) END AS pct_lq
FROM inputs AS i
LEFT JOIN cohort_ranks AS c
    ON c.region_type = i.region_type AND c.region_code = i.region_code
    AND c.cluster_code = i.cluster_code AND c.window_end = i.window_end
