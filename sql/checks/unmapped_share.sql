-- Release gate: per year × geography, the share of 6-digit employment (all legal forms, EMPFLAG
-- midpoints for suppressed cells) that maps to no cluster in the rows' own NAICS vintage
-- (classification 'NAICS2012' → definitions '2012', as macro naics_vintage in sql/common/macros.sql).
-- Returns the geographies above $max_unmapped_share with the top unmapped codes. A file joined
-- to the wrong definitions (e.g. NAICS 2012 codes to the 2007 definitions) fails here.
-- Runs on the warehouse: {table} is industry_employment, joined to cluster_naics.
WITH six AS (
    SELECT year, region_type, region_code, classification, industry_code AS naics, emp,
           substr(classification, 6) AS naics_vintage
    FROM {table}
    WHERE classification SIMILAR TO 'NAICS[0-9]{4}' AND lfo = '-' AND industry_level = 6
),
flagged AS (
    SELECT s.*, d.naics IS NULL AS unmapped
    FROM six AS s
    LEFT JOIN (SELECT DISTINCT naics_vintage, naics FROM cluster_naics) AS d
        ON d.naics_vintage = s.naics_vintage AND d.naics = s.naics
)
SELECT
    year, region_type, region_code,
    string_agg(DISTINCT classification, ',') AS classification,
    sum(emp) AS emp_6d,
    coalesce(sum(emp) FILTER (WHERE unmapped), 0) AS emp_unmapped,
    round(coalesce(sum(emp) FILTER (WHERE unmapped), 0) / sum(emp), 4) AS unmapped_share,
    list_slice(
        list(naics || ' (' || CAST(round(emp) AS BIGINT) || ')' ORDER BY emp DESC) FILTER (WHERE unmapped), 1, 5
    ) AS top_unmapped_codes
FROM flagged
GROUP BY year, region_type, region_code
HAVING coalesce(sum(emp) FILTER (WHERE unmapped), 0) > $max_unmapped_share * sum(emp)
ORDER BY unmapped_share DESC, year, region_type, region_code
