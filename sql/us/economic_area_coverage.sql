-- Coverage of BEA economic areas: the sums of their member counties' 6-digit and total-row
-- employment (region_coverage). The total is NULL unless every member county with rows in the
-- year has a total row, so an area's coverage is never computed over part of its members.
WITH members AS (
    SELECT region_code AS area_code, member_code
    FROM region_members
    WHERE region_type = 'economic_area' AND member_type = 'county'
)
SELECT
    c.year,
    'economic_area' AS region_type,
    m.area_code AS region_code,
    sum(c.six_digit_emp) AS six_digit_emp,
    sum(c.six_digit_emp_reported) AS six_digit_emp_reported,
    CASE WHEN count(c.total_emp) = count(*) THEN sum(c.total_emp) END AS total_emp
FROM region_coverage AS c
JOIN members AS m
    ON c.region_type = 'county' AND c.region_code = m.member_code
GROUP BY ALL
