-- A (year, region type) whose rows or employment fell by more than $max_shrink (a share, e.g.
-- 0.2) against the previous release. $prev_* are parallel lists with the previous release's
-- count(*) and sum(emp) per year and region type (only those requested again); a pair missing
-- now counts as 0 rows. Returns the pairs that shrank, with both releases' figures.
WITH prev AS (
    SELECT unnest($prev_year::INTEGER[]) AS year,
           unnest($prev_region_type::VARCHAR[]) AS region_type,
           unnest($prev_rows::BIGINT[]) AS prev_rows,
           unnest($prev_emp::DOUBLE[]) AS prev_emp
),
cur AS (
    SELECT year, region_type, count(*) AS rows, sum(emp) AS emp
    FROM {table}
    GROUP BY ALL
)
SELECT p.year, p.region_type, $previous_release AS previous_release,
       p.prev_rows, coalesce(c.rows, 0) AS rows,
       round(coalesce(c.rows, 0) / nullif(p.prev_rows, 0), 4) AS rows_ratio,
       p.prev_emp, coalesce(c.emp, 0) AS emp,
       round(coalesce(c.emp, 0) / nullif(p.prev_emp, 0), 4) AS emp_ratio
FROM prev AS p
LEFT JOIN cur AS c USING (year, region_type)
WHERE coalesce(c.rows, 0) < (1 - $max_shrink) * p.prev_rows
   OR coalesce(c.emp, 0) < (1 - $max_shrink) * coalesce(p.prev_emp, 0)
ORDER BY p.year, p.region_type
