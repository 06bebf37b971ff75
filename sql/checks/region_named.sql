-- Every region code of an indicator table has a name: in `regions` (clustermapping.us, incl. the
-- District of Columbia derived from county 11001) or, for user-defined groups, `custom_regions`.
-- A code without a name cannot be shown or cited; returns each unnamed region with its rows.
SELECT t.region_type, t.region_code, count(*) AS n_rows
FROM {table} AS t
WHERE NOT EXISTS (
        SELECT 1 FROM regions AS r
        WHERE r.region_type = t.region_type AND r.region_code = t.region_code
          AND coalesce(trim(r.region_name), '') <> ''
    )
  AND NOT EXISTS (
        SELECT 1 FROM custom_regions AS c
        WHERE c.region_type = t.region_type AND c.region_code = t.region_code
          AND coalesce(trim(c.region_name), '') <> ''
    )
GROUP BY t.region_type, t.region_code
ORDER BY t.region_type, t.region_code
