-- No infinite or NaN indicator values (nulls are allowed: undefined, e.g. LQ of an empty base).
SELECT year, region_type, region_code, cluster_code, emp, lq, region_emp_share, cluster_emp_share
FROM {table}
WHERE NOT isfinite(coalesce(emp, 0)) OR NOT isfinite(coalesce(lq, 0))
   OR NOT isfinite(coalesce(region_emp_share, 0)) OR NOT isfinite(coalesce(cluster_emp_share, 0))
ORDER BY year, region_type, region_code, cluster_code
