-- Year-over-year jumps in employment of a region's total and 2-digit sectors: growth factor
-- above $max_ratio or below 1 / $max_ratio where either year has at least $min_emp jobs.
-- Sector codes stay comparable across NAICS vintages at the 2-digit level.
WITH s AS (
    SELECT year, region_type, region_code, industry_code, emp
    FROM {table}
    WHERE lfo = '-' AND industry_level IN (0, 2)
),
pairs AS (
    SELECT cur.region_type, cur.region_code, cur.industry_code,
           prev.year AS prev_year, cur.year, prev.emp AS prev_emp, cur.emp AS emp
    FROM s AS cur
    JOIN s AS prev
      ON prev.region_type = cur.region_type AND prev.region_code = cur.region_code
     AND prev.industry_code = cur.industry_code AND prev.year = cur.year - 1
)
SELECT *, round(emp / nullif(prev_emp, 0), 3) AS ratio
FROM pairs
WHERE greatest(coalesce(prev_emp, 0), coalesce(emp, 0)) >= $min_emp
  AND (coalesce(emp, 0) > $max_ratio * coalesce(prev_emp, 0)
       OR coalesce(prev_emp, 0) > $max_ratio * coalesce(emp, 0))
ORDER BY year, region_code, industry_code
