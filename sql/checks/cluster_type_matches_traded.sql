-- cluster_type must agree with the traded flag, and codes 1–51 are traded, 101+ local.
SELECT cluster_code, traded, cluster_type
FROM {table}
WHERE cluster_type IS DISTINCT FROM CASE WHEN traded THEN 'traded' ELSE 'local' END
   OR traded IS DISTINCT FROM (TRY_CAST(cluster_code AS INTEGER) < 100)
ORDER BY cluster_code
