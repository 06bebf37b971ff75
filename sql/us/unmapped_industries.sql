-- 6-digit industries that no cluster definition covers in their own NAICS vintage (the file's,
-- detected at staging; reported, not silently dropped). One row per year × classification ×
-- region type × code with the employment it carries.
WITH ind AS (
    SELECT
        year, classification, region_type, industry_code AS naics, emp,
        naics_vintage(classification) AS naics_vintage
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND industry_level = 6
)
SELECT
    i.year,
    i.classification,
    i.naics_vintage AS definition_vintage,
    i.region_type,
    i.naics,
    count(*) AS n_regions,
    sum(i.emp) AS emp
FROM ind AS i
ANTI JOIN cluster_naics AS d
    ON d.naics_vintage = i.naics_vintage AND d.naics = i.naics
GROUP BY ALL
ORDER BY i.year, i.region_type, i.naics
