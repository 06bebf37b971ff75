-- Emerging clusters: LQ level × LQ change quadrants per region × cluster × window, employment
-- growth against the reference's growth in the cluster, and the stated emerging rule.
-- Input: family_panel (sql/families/panel.sql). Parameters (defaults in pipelines/warehouse/families.py):
--   $em_window_years        window length (5): every window (y, y + length) inside the years
--   $em_max_lq              LQ at the window's end must be below this (1.0: the "rising below 1"
--                           quadrant; strong clusters need LQ ≥ 1)
--   $em_min_lq_rise         relative LQ rise over the window: lq_end ≥ lq_start × (1 + rise) (0.10)
--   $em_min_growth_excess   employment growth minus the reference's growth in the cluster must
--                           exceed this (0.0, in growth-rate points over the window)
--   $em_min_emp             minimum employment at the window's end (250)
-- Quadrant (by $em_max_lq and the sign of the LQ change; no change counts as falling):
--   'rising above', 'falling above', 'rising below' (the emerging quadrant), 'falling below'.
-- emerging (traded clusters; null for local clusters and where an LQ is missing):
--   not strong at the window's end AND lq_end < $em_max_lq AND lq_end > lq_start
--   AND lq_end ≥ lq_start × (1 + $em_min_lq_rise) AND emp_growth − reference_growth >
--   $em_min_growth_excess AND emp_end ≥ $em_min_emp.
-- reference_growth: the reference's employment in the cluster over the reference cells present
-- at both ends (as in sql/families/shift_share.sql). vintage_break as in shift_share.
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
ref_win AS (
    SELECT w.window_start, a.cluster_code, xsum(b.emp) / nullif(xsum(a.emp), 0) - 1 AS reference_growth
    FROM windows AS w
    JOIN p AS a ON a.year = w.window_start AND a.is_ref
    JOIN p AS b ON b.year = w.window_end AND b.region_type = a.region_type
        AND b.region_code = a.region_code AND b.cluster_code = a.cluster_code
    WHERE a.emp IS NOT NULL AND b.emp IS NOT NULL
    GROUP BY ALL
),
ends AS (
    SELECT
        a.region_type, a.region_code, a.cluster_code, a.traded,
        w.window_start, w.window_end,
        a.vintage <> b.vintage AS vintage_break,
        a.emp AS emp_start, b.emp AS emp_end,
        a.lq AS lq_start, b.lq AS lq_end,
        a.strong AS strong_start, b.strong AS strong_end,
        b.emp / nullif(a.emp, 0) - 1 AS emp_growth,
        r.reference_growth
    FROM windows AS w
    JOIN p AS a ON a.year = w.window_start
    JOIN p AS b ON b.year = w.window_end AND b.region_type = a.region_type
        AND b.region_code = a.region_code AND b.cluster_code = a.cluster_code
    LEFT JOIN ref_win AS r ON r.window_start = w.window_start AND r.cluster_code = a.cluster_code
)
SELECT
    region_type,
    region_code,
    cluster_code,
    CASE WHEN traded THEN 'traded' ELSE 'local' END AS cluster_type,
    window_start,
    window_end,
    vintage_break,
    emp_start,
    emp_end,
    lq_start,
    lq_end,
    lq_end - lq_start AS lq_change,
    CASE
        WHEN lq_start IS NULL OR lq_end IS NULL THEN NULL
        WHEN lq_end >= $em_max_lq AND lq_end > lq_start THEN 'rising above'
        WHEN lq_end >= $em_max_lq THEN 'falling above'
        WHEN lq_end > lq_start THEN 'rising below'
        ELSE 'falling below'
    END AS quadrant,
    emp_growth,
    reference_growth,
    emp_growth - reference_growth AS growth_excess,
    strong_start,
    strong_end,
    CASE
        WHEN NOT traded OR lq_start IS NULL OR lq_end IS NULL THEN NULL
        ELSE coalesce(
            NOT coalesce(strong_end, false)
            AND lq_end < $em_max_lq
            AND lq_end > lq_start
            AND lq_end >= lq_start * (1 + $em_min_lq_rise)
            AND emp_growth - reference_growth > $em_min_growth_excess
            AND emp_end >= $em_min_emp,
            false
        )
    END AS emerging
FROM ends
