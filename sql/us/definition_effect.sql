-- Definition effect per year × cluster (issue 19): the cluster's national employment on the
-- definitions of the year's own NAICS vintage (native, cluster_totals: the clustermapping.us-
-- comparable view) against the same year on the one constant definition (the 2012-based
-- benchmark definitions, every vintage carried to them through the NAICS concordance with the
-- 2017/2022 apportioning; constant_definition.cluster_totals, pipelines/warehouse/timeseries.py).
-- National: the 'country' rows when the year has them, else the sum of the most complete base
-- level present (state, else county, else msa), the same reference as sql/families/panel.sql.
-- definition_effect = native / constant − 1 (0 when both are 0; NULL when the constant total is
-- unknown — a year no concordance bridges, e.g. NAICS 1997 — or 0 under a positive native total).
WITH native AS (
    SELECT year, region_type, cluster_code, emp, definition_vintage FROM cluster_totals
    WHERE region_type IN ('country', 'state', 'county', 'msa')
),
level AS (
    SELECT
        year,
        arg_min(
            region_type,
            CASE region_type WHEN 'country' THEN 0 WHEN 'state' THEN 1 WHEN 'county' THEN 2 ELSE 3 END
        ) AS reference_type
    FROM native
    GROUP BY year
),
nat AS (
    SELECT n.year, l.reference_type, n.cluster_code, xsum(n.emp) AS native_emp,
           string_agg(DISTINCT n.definition_vintage, ',' ORDER BY n.definition_vintage) AS naics_vintage
    FROM native AS n
    JOIN level AS l ON l.year = n.year AND l.reference_type = n.region_type
    GROUP BY ALL
),
cons AS (
    SELECT c.year, c.cluster_code, xsum(c.emp) AS constant_emp
    FROM constant_definition.cluster_totals AS c
    JOIN level AS l ON l.year = c.year AND l.reference_type = c.region_type
    GROUP BY ALL
)
SELECT
    n.year,
    n.cluster_code,
    n.reference_type,
    n.naics_vintage,
    n.native_emp,
    c.constant_emp,
    CASE
        WHEN c.constant_emp IS NULL THEN NULL
        WHEN c.constant_emp = 0 THEN CASE WHEN n.native_emp = 0 THEN 0.0 END
        ELSE n.native_emp / c.constant_emp - 1
    END AS definition_effect
FROM nat AS n
LEFT JOIN cons AS c USING (year, cluster_code)
