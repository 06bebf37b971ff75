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
    -- the vintage is derived once per output row (below), not per scanned row
    SELECT year, region_type, industry_code AS naics, emp, classification
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND industry_level = 6
      AND region_type IN ('country', 'state', 'county', 'msa')
),
ends AS (
    SELECT classification, min(year) AS year FROM ind GROUP BY ALL
    UNION
    SELECT classification, max(year) AS year FROM ind GROUP BY ALL
),
level AS (
    SELECT
        i.classification,
        i.year,
        arg_min(
            i.region_type,
            CASE i.region_type WHEN 'country' THEN 0 WHEN 'state' THEN 1 WHEN 'county' THEN 2 ELSE 3 END
        ) AS reference_type
    FROM ind AS i
    JOIN ends AS f USING (classification, year)
    GROUP BY ALL
),
sums AS (
    SELECT i.classification, i.naics, i.year, xsum(i.emp) AS emp
    FROM ind AS i
    JOIN level AS l
        ON l.classification = i.classification AND l.year = i.year AND l.reference_type = i.region_type
    GROUP BY ALL
)
SELECT
    naics_vintage(classification) AS naics_vintage,
    naics,
    CAST(year AS INTEGER) AS year,
    CAST(emp AS DOUBLE) AS emp
FROM sums
WHERE naics_vintage(classification) IS NOT NULL
