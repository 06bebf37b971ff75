-- Share of confidential / missing employment cells (emp IS NULL) per region × year; returns
-- the regions above $max_share.
SELECT year, region_type, region_code,
       count(*) AS cells,
       count(*) FILTER (WHERE emp IS NULL) AS confidential,
       round(count(*) FILTER (WHERE emp IS NULL) / count(*), 4) AS confidential_share
FROM {table}
GROUP BY ALL
HAVING count(*) FILTER (WHERE emp IS NULL) / count(*) > $max_share
ORDER BY confidential_share DESC, year, region_code
