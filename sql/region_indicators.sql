-- Region indicators per year × region, from cluster_indicators.
-- cluster_strength: share of the region's traded employment in its strong clusters.
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
ORDER BY region_type, region_code, year
