-- Cluster totals of user-defined US regions (custom_regions): the sums of their members'
-- cluster totals, like clustermapping.us sums counties into MSAs. A member without a row for a
-- cluster has no establishments there (a true zero); withheld values stay out of the sums, so
-- emp_reported and payroll keep their meaning "over reported cells".
WITH members AS (
    SELECT region_code AS group_code, base_type, unnest(members) AS member_code
    FROM custom_regions
    WHERE base_type IN ('state', 'county', 'msa')
)
SELECT
    t.year,
    'custom' AS region_type,
    m.group_code AS region_code,
    t.cluster_code,
    sum(t.emp) AS emp,
    sum(t.emp_reported) AS emp_reported,
    sum(t.est) AS est,
    sum(t.payroll) AS payroll,
    sum(t.qp1) AS qp1,
    sum(t.n_industries) AS n_industries,
    sum(t.n_imputed) AS n_imputed
FROM cluster_totals AS t
JOIN members AS m
    ON t.region_type = m.base_type AND t.region_code = m.member_code
GROUP BY ALL
