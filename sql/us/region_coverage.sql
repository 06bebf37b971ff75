-- Coverage of the 6-digit industry rows per year × region: their employment (reported cells plus
-- EMPFLAG midpoints of suppressed ones) over the employment of the file's total row (TOTAL), all
-- legal forms. Partial source files (industries absent) show up here as coverage below 1;
-- midpoints can also push it a little above 1. NULL when the region has no total row (null is
-- not zero). coverage_reported counts reported cells only, so coverage - coverage_reported is the
-- share of the total that rests on imputed midpoints.
WITH rows AS (
    SELECT year, region_type, region_code, industry_code, industry_level, emp, emp_reported
    FROM industry_employment
    WHERE classification LIKE 'NAICS%' AND lfo = '-' AND (industry_level = 6 OR industry_code = 'TOTAL')
),
six AS (
    SELECT year, region_type, region_code,
           sum(emp) AS six_digit_emp, sum(emp_reported) AS six_digit_emp_reported
    FROM rows
    WHERE industry_code <> 'TOTAL'
    GROUP BY ALL
),
total AS (
    SELECT year, region_type, region_code, emp AS total_emp
    FROM rows
    WHERE industry_code = 'TOTAL'
)
SELECT
    year, region_type, region_code,
    -- a region with a total row and no 6-digit rows has none: a true zero
    coalesce(s.six_digit_emp, 0) AS six_digit_emp,
    coalesce(s.six_digit_emp_reported, 0) AS six_digit_emp_reported,
    t.total_emp
FROM six AS s
FULL JOIN total AS t USING (year, region_type, region_code)
