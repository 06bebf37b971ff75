-- Completeness: every expected source (dataset) of the refresh has rows in {table}.
-- $expected_source lists the source ids; returns those with no rows.
SELECT s.source_id, count(t.source_id) AS rows
FROM (SELECT unnest($expected_source::VARCHAR[]) AS source_id) AS s
LEFT JOIN {table} AS t USING (source_id)
GROUP BY s.source_id
HAVING count(t.source_id) = 0
ORDER BY s.source_id
