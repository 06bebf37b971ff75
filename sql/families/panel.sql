-- Common input of the indicator families (shift-share, emerging, diversification, links):
-- one row per year × region × cluster from cluster_indicators (US + custom) or
-- eu_cluster_indicators (EU + custom), exposed by pipelines.warehouse.families as view family_source with
-- the stable columns only: year, region_type, region_code, cluster_code, cluster_type, emp, lq,
-- strong, est.
-- Parameters:
--   $side             'us' or 'eu' (set by pipelines.warehouse.families, not a user parameter)
--   $strong_lq_pct, $size_pct, $min_lq   the US strong rule (pipelines.warehouse.indicators.DEFAULT_PARAMS)
-- strong: the published flag when the source table has a strong column ($has_strong; US and EU
-- tables both do) — including its deliberate nulls (unranked EU rows: extra-regio, outside the
-- reference, overlapping NUTS versions), which no rule may fill; only a source without the column
-- gets the same US rule computed here, per year × region_type × traded cluster among regions with
-- emp > 0: lq ≥ P[$strong_lq_pct](lq), emp > P[$size_pct](emp), est > P[$size_pct](est),
-- lq ≥ $min_lq. strong_source says which.
-- Reference ("national" / "European") per year × cluster: the US 'country' rows when the year
-- has them; else the sum of the EU country rows (nuts0); else the sum of the most complete US
-- base level present (state, else county, else msa). Every region type, including custom
-- regions, is compared with that one reference. is_ref marks the rows it sums, so that growth
-- over a window can be taken on the reference cells present at both ends (the mirror's EU
-- country rows come and go between years; a sum over a changing set is not growth).
-- vintage: the cluster-definition vintage of the row. THE ONE PLACE windows get their
-- vintage_break flag from: US rows carry cluster_indicators.definition_vintage (the NAICS vintage
-- detected in the year's files, sql/us/cluster_totals.sql); EU rows are NACE Rev.2 throughout.
WITH src AS (
    SELECT
        CAST(year AS INTEGER) AS year, region_type, region_code, cluster_code,
        cluster_type = 'traded' AS traded,
        CAST(emp AS DOUBLE) AS emp, CAST(lq AS DOUBLE) AS lq, strong, CAST(est AS DOUBLE) AS est,
        definition_vintage
    FROM family_source
),
pct AS (
    SELECT
        year, region_type, cluster_code,
        quantile_cont(lq, $strong_lq_pct) AS lq_p,
        quantile_cont(emp, $size_pct) AS emp_p,
        quantile_cont(est, $size_pct) AS est_p
    FROM src
    WHERE traded AND region_type NOT IN ('country') AND emp > 0
    GROUP BY ALL
),
rule AS (
    SELECT
        s.*,
        CASE
            WHEN NOT s.traded OR s.region_type = 'country' THEN NULL
            ELSE coalesce(
                s.emp > 0 AND s.emp > p.emp_p AND s.est > p.est_p AND s.lq >= $min_lq AND s.lq >= p.lq_p,
                false
            )
        END AS strong_rule
    FROM src AS s
    LEFT JOIN pct AS p USING (year, region_type, cluster_code)
),
ref_level AS (
    SELECT
        year,
        arg_min(
            region_type,
            CASE region_type WHEN 'country' THEN 0 WHEN 'nuts0' THEN 1 WHEN 'state' THEN 2
                WHEN 'county' THEN 3 ELSE 4 END
        ) AS ref_type
    FROM src
    WHERE region_type IN ('country', 'nuts0', 'state', 'county', 'msa')
    GROUP BY year
),
ref AS (
    SELECT s.year, s.cluster_code, xsum(s.emp) AS ref_emp,
           any_value(l.ref_type) AS ref_type
    FROM src AS s
    JOIN ref_level AS l ON l.year = s.year AND l.ref_type = s.region_type
    GROUP BY ALL
),
ref_base AS (
    SELECT f.year, c.traded, xsum(f.ref_emp) AS ref_base_emp
    FROM ref AS f
    JOIN (SELECT DISTINCT cluster_code, traded FROM src) AS c USING (cluster_code)
    GROUP BY ALL
),
ref_total AS (
    SELECT year, xsum(ref_emp) AS ref_total_emp FROM ref GROUP BY ALL
),
region_base AS (
    SELECT year, region_type, region_code, traded, xsum(emp) AS region_base_emp FROM src GROUP BY ALL
),
region_total AS (
    SELECT year, region_type, region_code, xsum(emp) AS region_total_emp FROM src GROUP BY ALL
)
SELECT
    r.year, r.region_type, r.region_code, r.cluster_code, r.traded, r.emp, r.lq, r.est,
    CASE WHEN $has_strong THEN r.strong ELSE r.strong_rule END AS strong,
    CASE
        WHEN $has_strong AND r.strong IS NOT NULL THEN 'published'
        WHEN NOT $has_strong AND r.strong_rule IS NOT NULL THEN 'family rule'
    END AS strong_source,
    f.ref_type,
    r.region_type = f.ref_type AS is_ref,
    f.ref_emp,
    fb.ref_base_emp,
    ft.ref_total_emp,
    rb.region_base_emp,
    rt.region_total_emp,
    CASE WHEN $side = 'eu' THEN 'NACE Rev.2' ELSE r.definition_vintage END AS vintage
FROM rule AS r
LEFT JOIN ref AS f ON f.year = r.year AND f.cluster_code = r.cluster_code
LEFT JOIN ref_base AS fb ON fb.year = r.year AND fb.traded = r.traded
LEFT JOIN ref_total AS ft ON ft.year = r.year
JOIN region_base AS rb
    ON rb.year = r.year AND rb.region_type = r.region_type AND rb.region_code = r.region_code
    AND rb.traded = r.traded
JOIN region_total AS rt
    ON rt.year = r.year AND rt.region_type = r.region_type AND rt.region_code = r.region_code
