-- Shift-share of cluster employment change per region × cluster × window (where growth came from).
-- Input: family_panel (sql/families/panel.sql). Parameters:
--   $ss_window_years  length of the rolling windows (default 5): every window (y, y + length)
--                     inside the panel's years, plus the full window first → last year.
-- Classic decomposition for region r, cluster i, window t0 → t1 (e = region × cluster employment,
-- E_i = reference cluster employment, E = reference employment of all clusters; both summed over
-- the reference cells (family_panel.is_ref) with employment at both t0 and t1, so that a country
-- or cell missing in one year does not pass for growth or decline):
--   G = E(t1)/E(t0) − 1, g_i = E_i(t1)/E_i(t0) − 1
--   national_effect    = e0 · G
--   mix_effect         = e0 · (g_i − G)
--   competitive_effect = (e1 − e0) − national − mix          (= e0 · (r_i − g_i) when e0 > 0)
-- Esteban-Marquillas: homothetic employment ê0 = region total (all clusters) · E_i(t0)/E(t0);
--   homothetic_effect = ê0 · (r_i − g_i), allocation_effect = competitive − homothetic
--   (= (e0 − ê0)(r_i − g_i)); null when e0 = 0 (r_i undefined).
-- Dynamic: the classic parts computed for every year-to-year step of the window and summed;
-- null unless the region × cluster and the reference have every year of the window.
-- The parts add up to emp_change exactly (the competitive parts are residuals).
-- Series (issue 19): the panel's rows — the constant-definition series cluster_timeseries by
-- default (column series). Growth only from sound bases: growth_basis = the start row's
-- family_panel.basis unless 'ok', else 'partial_coverage' when the end year's coverage is partial,
-- else 'ok'. Rows that are not 'ok' keep emp_start, emp_end, emp_change and the reference's
-- rates; region_growth (r_i) and the parts built on it (homothetic, allocation) are NULL; with
-- partial coverage at either end every part is NULL (the change is partly the files'), while a
-- small or imputed base keeps the classic and dynamic parts, which are in persons, scale with
-- emp_start and still add up to the change. The reference sums only cells whose coverage
-- is not partial at either end (and, as before, present at both ends: for Europe the countries
-- of the reference at BOTH ends of the window; reference_regions counts them).
-- vintage_break: the data's NAICS vintage differs between t0 and t1 AND the cluster's national
-- definition effect is material (|effect| > $max_definition_effect) or unknown at either end
-- (family_panel.definition_material); on the constant series most windows are never flagged.
-- Reference rows (US 'country') are the reference, not regions: not decomposed.
WITH p AS (
    SELECT * FROM family_panel WHERE region_type <> 'country'
),
years AS (
    SELECT min(year) AS y_min, max(year) AS y_max FROM family_panel
),
windows AS (
    SELECT y_min AS window_start, y_max AS window_end, 'full' AS window_kind FROM years
    WHERE y_max > y_min
    UNION
    SELECT y AS window_start, y + $ss_window_years AS window_end, 'rolling' AS window_kind
    FROM (
        SELECT unnest(range(y_min, y_max - $ss_window_years + 1)) AS y, y_min, y_max FROM years
        WHERE $ss_window_years > 0
    )
    WHERE NOT (y = y_min AND y + $ss_window_years = y_max)  -- the full window already
),
ref_win AS (
    SELECT
        w.window_start, w.window_end, a.cluster_code,
        xsum(a.emp) AS ref_emp_start, xsum(b.emp) AS ref_emp_end,
        count(*) AS reference_regions
    FROM windows AS w
    JOIN p AS a ON a.year = w.window_start AND a.is_ref
    JOIN p AS b ON b.year = w.window_end AND b.region_type = a.region_type
        AND b.region_code = a.region_code AND b.cluster_code = a.cluster_code
    WHERE a.emp IS NOT NULL AND b.emp IS NOT NULL AND a.sound_end AND b.sound_end
    GROUP BY ALL
),
ref_win_total AS (
    SELECT window_start, window_end, xsum(ref_emp_start) AS ref_total_start, xsum(ref_emp_end) AS ref_total_end
    FROM ref_win
    GROUP BY ALL
),
ends AS (
    SELECT
        w.window_start, w.window_end, w.window_kind,
        a.region_type, a.region_code, a.cluster_code, a.traded,
        a.emp AS emp_start, b.emp AS emp_end,
        rw.ref_emp_start, rw.ref_emp_end, rt.ref_total_start, rt.ref_total_end,
        rw.reference_regions,
        a.region_total_emp AS region_total_start,
        a.vintage <> b.vintage AND (a.definition_material OR b.definition_material) AS vintage_break,
        CASE
            WHEN a.basis <> 'ok' THEN a.basis
            WHEN NOT b.sound_end THEN 'partial_coverage'
            ELSE 'ok'
        END AS growth_basis,
        a.series
    FROM windows AS w
    JOIN p AS a ON a.year = w.window_start
    JOIN p AS b ON b.year = w.window_end
        AND b.region_type = a.region_type AND b.region_code = a.region_code
        AND b.cluster_code = a.cluster_code
    LEFT JOIN ref_win AS rw
        ON rw.window_start = w.window_start AND rw.window_end = w.window_end
        AND rw.cluster_code = a.cluster_code
    LEFT JOIN ref_win_total AS rt
        ON rt.window_start = w.window_start AND rt.window_end = w.window_end
    WHERE a.emp IS NOT NULL AND b.emp IS NOT NULL
),
rates AS (
    SELECT
        *,
        ref_total_end / nullif(ref_total_start, 0) - 1 AS national_growth,
        ref_emp_end / nullif(ref_emp_start, 0) - 1 AS cluster_growth,
        CASE WHEN growth_basis = 'ok' THEN emp_end / nullif(emp_start, 0) - 1 END AS region_growth,
        region_total_start * ref_emp_start / nullif(ref_total_start, 0) AS homothetic_emp_start
    FROM ends
),
classic AS (
    SELECT
        *,
        emp_end - emp_start AS emp_change,
        CASE WHEN growth_basis <> 'partial_coverage' THEN emp_start * national_growth END AS national_effect,
        CASE WHEN growth_basis <> 'partial_coverage' THEN emp_start * (cluster_growth - national_growth) END
            AS mix_effect
    FROM rates
),
pairs AS (
    -- consecutive years of one region × cluster, both with employment
    SELECT a.region_type, a.region_code, a.cluster_code, a.year, a.is_ref, a.emp AS e0, b.emp AS e1
    FROM p AS a
    JOIN p AS b ON b.year = a.year + 1
        AND b.region_type = a.region_type AND b.region_code = a.region_code
        AND b.cluster_code = a.cluster_code
    WHERE a.emp IS NOT NULL AND b.emp IS NOT NULL AND a.sound_end AND b.sound_end
),
step_ref AS (
    SELECT year, cluster_code, xsum(e1) / nullif(xsum(e0), 0) - 1 AS g
    FROM pairs WHERE is_ref GROUP BY ALL
),
step_ref_total AS (
    SELECT year, xsum(e1) / nullif(xsum(e0), 0) - 1 AS g_total
    FROM pairs WHERE is_ref GROUP BY ALL
),
steps AS (
    -- year-to-year classic parts, for the dynamic variant
    SELECT
        s.region_type, s.region_code, s.cluster_code, s.year,
        s.e0 * t.g_total AS nat,
        s.e0 * (r.g - t.g_total) AS mix,
        s.e1 - s.e0 AS change
    FROM pairs AS s
    LEFT JOIN step_ref AS r USING (year, cluster_code)
    LEFT JOIN step_ref_total AS t USING (year)
),
dynamic AS (
    SELECT
        c.window_start, c.window_end, c.region_type, c.region_code, c.cluster_code,
        count(s.year) AS n_steps,
        count(s.nat) AS n_nat,
        count(s.mix) AS n_mix,
        xsum(s.nat) AS dyn_national,
        xsum(s.mix) AS dyn_mix,
        xsum(s.change) AS dyn_change
    FROM classic AS c
    JOIN steps AS s
        ON s.region_type = c.region_type AND s.region_code = c.region_code
        AND s.cluster_code = c.cluster_code
        AND s.year >= c.window_start AND s.year < c.window_end
    GROUP BY ALL
)
SELECT
    c.region_type,
    c.region_code,
    c.cluster_code,
    CASE WHEN c.traded THEN 'traded' ELSE 'local' END AS cluster_type,
    c.window_start,
    c.window_end,
    c.window_kind,
    c.vintage_break,
    c.growth_basis,
    c.series,
    c.reference_regions,
    c.emp_start,
    c.emp_end,
    c.emp_change,
    c.national_growth,
    c.cluster_growth,
    c.region_growth,
    c.national_effect,
    c.mix_effect,
    c.emp_change - c.national_effect - c.mix_effect AS competitive_effect,
    c.homothetic_emp_start,
    CASE WHEN c.emp_start > 0 AND c.growth_basis = 'ok' THEN c.homothetic_emp_start * (c.region_growth - c.cluster_growth) END
        AS homothetic_effect,
    CASE WHEN c.emp_start > 0 AND c.growth_basis = 'ok' THEN
        (c.emp_change - c.national_effect - c.mix_effect)
            - c.homothetic_emp_start * (c.region_growth - c.cluster_growth)
    END AS allocation_effect,
    CASE WHEN c.growth_basis <> 'partial_coverage' AND d.n_steps = c.window_end - c.window_start
        AND d.n_nat = d.n_steps THEN d.dyn_national END AS dynamic_national_effect,
    CASE WHEN c.growth_basis <> 'partial_coverage' AND d.n_steps = c.window_end - c.window_start
        AND d.n_mix = d.n_steps THEN d.dyn_mix END AS dynamic_mix_effect,
    CASE WHEN c.growth_basis <> 'partial_coverage' AND d.n_steps = c.window_end - c.window_start AND d.n_nat = d.n_steps
        AND d.n_mix = d.n_steps THEN c.emp_change - d.dyn_national - d.dyn_mix END AS dynamic_competitive_effect
FROM classic AS c
LEFT JOIN dynamic AS d
    USING (window_start, window_end, region_type, region_code, cluster_code)
