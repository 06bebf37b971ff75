-- Cluster totals per year × region × cluster, from the harmonised industry table.
-- Inputs: industry_employment (harmonised long table), cluster_naics (definitions by NAICS vintage,
-- with apportioning weights for codes derived through the concordance).
-- Rule: 6-digit NAICS rows, all legal forms (lfo '-'), joined to the cluster definitions of the
-- row's own NAICS vintage (its file's, detected at staging; macro naics_vintage in sql/common/macros.sql).
-- definition_vintage: the vintage(s) of the definitions used in the year (comma-separated when
-- files of one year differ), for the growth flag of sql/us/cluster_indicators.sql.
-- Apportioned sums are rounded to 1e-6 so that the order DuckDB adds in (not fixed) cannot
-- move a value across a percentile threshold between two runs on the same input.
-- Withheld values are NULL and SUM skips them, so emp_reported and payroll cover reported cells only.
-- Every region present in a year gets a row for every cluster: a cluster with no establishments
-- there has a true zero (CBP lists every industry with at least one establishment) — provided
-- cluster_naics has definitions for every NAICS vintage of the region-year's rows. A region-year
-- whose codes no definitions cover is left out, never a row of false zeros: with the native
-- definitions every vintage is covered; the constant-definition series (issue 19,
-- pipelines/warehouse/timeseries.py) has no 1997 → 2012 bridge, so its NAICS 1997 years drop out.
-- `ind` is NOT MATERIALIZED: it feeds the sums and the region frame, and scanning the staged
-- Parquet twice (the frame reads three columns) is cheaper than buffering 20M rows (~1 s at 25 county years).
WITH ind AS NOT MATERIALIZED (
    SELECT
        year, region_type, region_code, industry_code AS naics,
        emp, emp_reported, est, payroll, qp1, emp_imputed, classification
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND industry_level = 6
),
-- the definitions keyed by the classification a row carries ('NAICS' || vintage): the join and
-- the region frame then compare the row's own string, with no per-row vintage derived
defs AS (
    SELECT 'NAICS' || naics_vintage AS classification, naics, cluster_code, weight
    FROM cluster_naics
),
sums AS (
SELECT
    i.year,
    i.region_type,
    i.region_code,
    d.cluster_code,
    round(sum(i.emp * d.weight), 6) AS emp,
    round(sum(i.emp_reported * d.weight), 6) AS emp_reported,
    round(sum(i.est * d.weight), 6) AS est,
    round(sum(i.payroll * d.weight), 6) AS payroll,
    round(sum(i.qp1 * d.weight), 6) AS qp1,
    count(*) AS n_industries,
    count(*) FILTER (WHERE i.emp_imputed) AS n_imputed
FROM ind AS i
JOIN defs AS d
    ON d.classification = i.classification AND d.naics = i.naics
GROUP BY ALL
),
regions AS (
    SELECT
        year, region_type, region_code,
        string_agg(naics_vintage(classification), ',' ORDER BY classification) AS definition_vintage
    FROM (SELECT DISTINCT year, region_type, region_code, classification FROM ind)
    GROUP BY ALL
    HAVING bool_and(classification IN (SELECT DISTINCT classification FROM defs))
),
frame AS (
    SELECT r.year, r.region_type, r.region_code, r.definition_vintage, c.cluster_code
    FROM regions AS r
    CROSS JOIN (SELECT DISTINCT cluster_code FROM cluster_naics) AS c
)
SELECT
    f.year,
    f.region_type,
    f.region_code,
    f.cluster_code,
    coalesce(s.emp, 0) AS emp,
    CASE WHEN s.year IS NULL THEN 0 ELSE s.emp_reported END AS emp_reported,
    coalesce(s.est, 0) AS est,
    CASE WHEN s.year IS NULL THEN 0 ELSE s.payroll END AS payroll,
    CASE WHEN s.year IS NULL THEN 0 ELSE s.qp1 END AS qp1,
    coalesce(s.n_industries, 0) AS n_industries,
    coalesce(s.n_imputed, 0) AS n_imputed,
    f.definition_vintage
FROM frame AS f
LEFT JOIN sums AS s USING (year, region_type, region_code, cluster_code)
