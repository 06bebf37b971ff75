-- Share of suppressed (imputed or withheld) employment cells per region × year, all legal
-- forms, 6-digit rows; returns the regions above $max_share.
SELECT year, region_type, region_code,
       count(*) AS cells,
       count(*) FILTER (WHERE emp_reported IS NULL) AS suppressed,
       round(count(*) FILTER (WHERE emp_reported IS NULL) / count(*), 4) AS suppressed_share
FROM {table}
WHERE lfo = '-' AND industry_level = 6
GROUP BY ALL
HAVING count(*) FILTER (WHERE emp_reported IS NULL) / count(*) > $max_share
ORDER BY suppressed_share DESC, year, region_code
