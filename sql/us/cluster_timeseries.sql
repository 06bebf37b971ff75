-- US rows of the constant-definition series cluster_timeseries (issue 19;
-- pipelines/warehouse/timeseries.py). Input: constant_definition.cluster_indicators — the rules of
-- sql/us/cluster_indicators.sql run on the constant-definition cluster totals (every year's 6-digit
-- rows on the 2012-based benchmark definitions through the NAICS concordance; NAICS 1997 years,
-- which no concordance bridges, are not in it) — plus the native cluster_indicators (native_emp),
-- region_indicators (coverage) and definition_effect (national, per year × cluster).
-- Column types are the ones of sql/eu/cluster_timeseries.sql (one table, both sides).
-- extra_regio: a CBP statewide code (county XX999, macro cbp_statewide), the US analogue of an EU
-- extra-regio code: kept in the series, never in a family table.
SELECT
    'us' AS side,
    CAST(c.year AS INTEGER) AS year,
    c.region_type,
    c.region_code,
    CAST(NULL AS VARCHAR) AS nuts_version,
    c.cluster_code,
    c.cluster_type,
    'US benchmark clusters, NAICS 2012 definitions' AS definition,
    c.definition_vintage AS naics_vintage,
    c.definition_vintage <> '2012' AS bridged,
    CAST(c.emp AS DOUBLE) AS emp,
    CAST(c.emp_reported AS DOUBLE) AS emp_reported,
    CAST(c.est AS DOUBLE) AS est,
    CAST(c.lq AS DOUBLE) AS lq,
    c.strong,
    CAST(r.coverage AS DOUBLE) AS coverage,
    c.growth_basis,
    CAST(c.base_year AS INTEGER) AS base_year,
    CAST(c.base_emp AS DOUBLE) AS base_emp,
    CAST(c.job_creation AS DOUBLE) AS job_creation,
    CAST(c.cagr AS DOUBLE) AS cagr,
    c.vintage_break,
    CAST(n.emp AS DOUBLE) AS native_emp,
    CAST(d.definition_effect AS DOUBLE) AS definition_effect,
    CAST(NULL AS BOOLEAN) AS ranked,
    cbp_statewide(c.region_type, c.region_code) AS extra_regio
FROM constant_definition.cluster_indicators AS c
LEFT JOIN cluster_indicators AS n USING (year, region_type, region_code, cluster_code)
LEFT JOIN region_indicators AS r USING (year, region_type, region_code)
LEFT JOIN definition_effect AS d USING (year, cluster_code)
