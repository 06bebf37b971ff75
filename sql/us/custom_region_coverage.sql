-- Coverage of user-defined US regions (custom_regions): the sums of their members' 6-digit and
-- total-row employment (region_coverage). The total is NULL unless every member has a total row,
-- so a group's coverage is never computed over part of its members.
WITH members AS (
    SELECT region_code AS group_code, base_type, len(members) AS n_members, unnest(members) AS member_code
    FROM custom_regions
    WHERE base_type IN ('state', 'county', 'msa')
)
SELECT
    c.year,
    'custom' AS region_type,
    m.group_code AS region_code,
    sum(c.six_digit_emp) AS six_digit_emp,
    sum(c.six_digit_emp_reported) AS six_digit_emp_reported,
    CASE WHEN count(c.total_emp) = any_value(m.n_members) THEN sum(c.total_emp) END AS total_emp
FROM region_coverage AS c
JOIN members AS m
    ON c.region_type = m.base_type AND c.region_code = m.member_code
GROUP BY ALL
