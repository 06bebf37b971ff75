-- National employment per 6-digit NAICS code in the FIRST and the LAST year coded in each NAICS
-- vintage (issue 19): the two ends of a vintage change (an old code's last year, its successors'
-- first) from which the constant-definition series estimates how an old code's employment went to
-- its successor codes, and so apportions a bridged code over their clusters
-- (pipelines/warehouse/successor_flows.py, timeseries.apportion_by_successors). A vintage with one
-- year in the run gives that year once.
-- Vintage of a row: its file's, detected at staging (macro naics_vintage). National: the 'country'
-- rows when that year has them, else the sum of the most complete base level present
-- (state, else county, else msa), the reference of sql/us/definition_effect.sql. Withheld cells
-- (NULL) are skipped; a vintage with no year in the run has no rows (the series then splits equally).
WITH ind AS (
    SELECT year, region_type, industry_code AS naics, emp, naics_vintage(classification) AS naics_vintage
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND industry_level = 6
      AND region_type IN ('country', 'state', 'county', 'msa')
),
ends AS (
    SELECT naics_vintage, min(year) AS year FROM ind GROUP BY ALL
    UNION
    SELECT naics_vintage, max(year) AS year FROM ind GROUP BY ALL
),
level AS (
    SELECT
        i.naics_vintage,
        i.year,
        arg_min(
            i.region_type,
            CASE i.region_type WHEN 'country' THEN 0 WHEN 'state' THEN 1 WHEN 'county' THEN 2 ELSE 3 END
        ) AS reference_type
    FROM ind AS i
    JOIN ends AS f USING (naics_vintage, year)
    GROUP BY ALL
)
SELECT
    i.naics_vintage,
    i.naics,
    CAST(i.year AS INTEGER) AS year,
    CAST(xsum(i.emp) AS DOUBLE) AS emp
FROM ind AS i
JOIN level AS l
    ON l.naics_vintage = i.naics_vintage AND l.year = i.year AND l.reference_type = i.region_type
GROUP BY ALL
