-- No infinite or NaN wage or growth values (nulls are allowed where undefined).
SELECT year, region_type, region_code, cluster_code, emp, emp_reported, payroll, wage, cagr
FROM {table}
WHERE NOT isfinite(coalesce(wage, 0)) OR NOT isfinite(coalesce(cagr, 0))
   OR NOT isfinite(coalesce(job_creation, 0))
ORDER BY year, region_type, region_code, cluster_code
