-- Region indicators per year × region, from cluster_indicators.
-- cluster_strength: share of the region's traded employment in its strong clusters.
-- Coverage (region_coverage, sql/us/region_coverage.sql): 6-digit employment over the file's total
-- row; NULL where the region has no total row (e.g. researcher-supplied cluster totals).
WITH r AS (
SELECT
    year,
    region_type,
    region_code,
    sum(emp) FILTER (WHERE cluster_type = 'traded') AS traded_emp,
    sum(emp) FILTER (WHERE cluster_type = 'local') AS local_emp,
    sum(emp) AS cluster_emp,
    sum(emp) FILTER (WHERE cluster_type = 'traded') / nullif(sum(emp), 0) AS traded_share,
    sum(payroll) FILTER (WHERE cluster_type = 'traded') * 1000.0
        / nullif(sum(emp_reported) FILTER (WHERE cluster_type = 'traded'), 0) AS traded_wage,
    sum(payroll) FILTER (WHERE cluster_type = 'local') * 1000.0
        / nullif(sum(emp_reported) FILTER (WHERE cluster_type = 'local'), 0) AS local_wage,
    count(*) FILTER (WHERE strong) AS n_strong_clusters,
    coalesce(sum(emp) FILTER (WHERE strong), 0) AS strong_cluster_emp,
    coalesce(sum(emp) FILTER (WHERE strong), 0)
        / nullif(sum(emp) FILTER (WHERE cluster_type = 'traded'), 0) AS cluster_strength,
    any_value(national_reference) AS national_reference
FROM cluster_indicators
GROUP BY ALL
)
SELECT
    r.*,
    c.total_emp,
    c.six_digit_emp,
    c.six_digit_emp / nullif(c.total_emp, 0) AS coverage,
    c.six_digit_emp_reported / nullif(c.total_emp, 0) AS coverage_reported
FROM r
LEFT JOIN region_coverage AS c USING (year, region_type, region_code)
ORDER BY region_type, region_code, year
