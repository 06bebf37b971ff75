-- Per region × year × legal form: the 6-digit industry rows must not add up to more than the
-- region's TOTAL row (reported employment and establishments, relative tolerance $tolerance).
-- Returns the failing regions.
WITH six AS (
    SELECT year, region_type, region_code, lfo,
           sum(emp_reported) AS emp_reported_6d, sum(est) AS est_6d
    FROM {table}
    WHERE industry_level = 6
    GROUP BY ALL
),
total AS (
    SELECT year, region_type, region_code, lfo, emp AS emp_total, est AS est_total
    FROM {table}
    WHERE industry_code = 'TOTAL'
)
SELECT s.year, s.region_type, s.region_code, s.lfo,
       s.emp_reported_6d, t.emp_total, s.est_6d, t.est_total
FROM six AS s
JOIN total AS t USING (year, region_type, region_code, lfo)
WHERE s.emp_reported_6d > t.emp_total * (1 + $tolerance)
   OR s.est_6d > t.est_total * (1 + $tolerance)
ORDER BY s.year, s.region_type, s.region_code
