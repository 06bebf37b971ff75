-- Completeness: every requested (year, region type) of the refresh has rows in {table}.
-- $expected_year / $expected_region_type / $expected_source are parallel lists (one entry per
-- requested CBP year × geography); returns the requested ones with no rows.
WITH expected AS (
    SELECT unnest($expected_year::INTEGER[]) AS year,
           unnest($expected_region_type::VARCHAR[]) AS region_type,
           unnest($expected_source::VARCHAR[]) AS source_id
),
got AS (
    SELECT year, region_type, count(*) AS rows
    FROM {table}
    GROUP BY ALL
)
SELECT e.year, e.region_type, e.source_id, coalesce(g.rows, 0) AS rows
FROM expected AS e
LEFT JOIN got AS g USING (year, region_type)
WHERE coalesce(g.rows, 0) = 0
ORDER BY e.year, e.region_type
