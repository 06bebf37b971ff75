-- strong10 (LQ ≥ 90th percentile) is a stricter strong (75th): strong10 without strong is wrong.
SELECT year, region_type, region_code, cluster_code, lq, strong, strong10
FROM {table}
WHERE strong10 AND NOT coalesce(strong, false)
ORDER BY year, region_type, region_code, cluster_code
