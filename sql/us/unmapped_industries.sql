-- 6-digit industries that no cluster definition covers in their own NAICS vintage (the file's,
-- detected at staging; reported, not silently dropped). One row per year × classification ×
-- region type × code with the employment it carries.
WITH ind AS (
    SELECT year, classification, region_type, industry_code AS naics, emp
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND industry_level = 6
),
-- the definitions keyed by the classification a row carries, as in sql/us/cluster_totals.sql
defs AS (
    SELECT DISTINCT 'NAICS' || naics_vintage AS classification, naics FROM cluster_naics
),
unmapped AS (
    SELECT i.year, i.classification, i.region_type, i.naics, count(*) AS n_regions, sum(i.emp) AS emp
    FROM ind AS i
    ANTI JOIN defs AS d
        ON d.classification = i.classification AND d.naics = i.naics
    GROUP BY ALL
)
SELECT
    year,
    classification,
    naics_vintage(classification) AS definition_vintage,
    region_type,
    naics,
    n_regions,
    emp
FROM unmapped
ORDER BY year, region_type, naics
