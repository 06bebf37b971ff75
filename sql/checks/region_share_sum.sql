-- region_emp_share must sum to 1 per region × year × cluster type wherever the region's
-- traded (or local) employment base is positive; returns the groups off by more than $tolerance.
SELECT year, region_type, region_code, cluster_type,
       count(*) AS clusters,
       sum(emp) AS base_emp,
       sum(region_emp_share) AS share_sum
FROM {table}
GROUP BY ALL
HAVING sum(emp) > 0 AND abs(coalesce(sum(region_emp_share), 0) - 1) > $tolerance
ORDER BY year, region_type, region_code, cluster_type
