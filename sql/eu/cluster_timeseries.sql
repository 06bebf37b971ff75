-- EU rows of the constant-definition series cluster_timeseries (issue 19;
-- pipelines/warehouse/timeseries.py). EU data are NACE Rev.2 in every year and map to clusters
-- through ONE NACE → cluster concordance, so the EU indicator rows (eu_cluster_indicators) are
-- already on one definition: no bridging, no definition effect. Every row is kept (ranked,
-- extra_regio say which rows the families leave out). Column types: sql/us/cluster_timeseries.sql.
SELECT
    'eu' AS side,
    CAST(year AS INTEGER) AS year,
    region_type,
    region_code,
    CAST(nuts_version AS VARCHAR) AS nuts_version,
    cluster_code,
    cluster_type,
    'NACE Rev.2 → cluster concordance (one mapping, every year)' AS definition,
    CAST(NULL AS VARCHAR) AS naics_vintage,
    false AS bridged,
    CAST(emp AS DOUBLE) AS emp,
    CAST(emp_reported AS DOUBLE) AS emp_reported,
    CAST(est AS DOUBLE) AS est,
    CAST(lq AS DOUBLE) AS lq,
    strong,
    CAST(coverage AS DOUBLE) AS coverage,
    growth_basis,
    CAST(base_year AS INTEGER) AS base_year,
    CAST(base_emp AS DOUBLE) AS base_emp,
    CAST(job_creation AS DOUBLE) AS job_creation,
    CAST(cagr AS DOUBLE) AS cagr,
    CASE WHEN year > base_year THEN false END AS vintage_break,
    CAST(emp AS DOUBLE) AS native_emp,
    CASE WHEN emp IS NOT NULL THEN CAST(0 AS DOUBLE) END AS definition_effect,
    ranked,
    extra_regio
FROM eu_cluster_indicators
