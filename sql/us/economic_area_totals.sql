-- Cluster totals of BEA economic areas (region_type 'economic_area'), the main US regional unit
-- of clustermapping.us: the sums of their member counties' cluster totals (region_members,
-- member_type 'county'), like clustermapping.us sums counties. Rows exist only where county rows
-- do (county CBP files in the run). A member county without a row for a cluster has no
-- establishments there (a true zero); withheld values stay out of the sums, so emp_reported and
-- payroll keep their meaning "over reported cells". definition_vintage: the members' vintages.
WITH members AS (
    SELECT region_code AS area_code, member_code
    FROM region_members
    WHERE region_type = 'economic_area' AND member_type = 'county'
)
SELECT
    t.year,
    'economic_area' AS region_type,
    m.area_code AS region_code,
    t.cluster_code,
    sum(t.emp) AS emp,
    sum(t.emp_reported) AS emp_reported,
    sum(t.est) AS est,
    sum(t.payroll) AS payroll,
    sum(t.qp1) AS qp1,
    sum(t.n_industries) AS n_industries,
    sum(t.n_imputed) AS n_imputed,
    string_agg(DISTINCT t.definition_vintage, ',' ORDER BY t.definition_vintage) AS definition_vintage
FROM cluster_totals AS t
JOIN members AS m
    ON t.region_type = 'county' AND t.region_code = m.member_code
GROUP BY ALL
