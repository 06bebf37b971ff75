-- The constant-definition series (cluster_timeseries, issue 19) against its own rules; returns
-- the failing rows with the rule they break:
--   unbridged year      a US row coded in a NAICS vintage the concordance does not reach (1997)
--   rate from unsound   a CAGR whose base_year row is not growth_basis = 'ok'
--   differs from native a row on the series' own definitions (US NAICS 2012 data, every EU row)
--                       whose employment differs from the native view by more than $tolerance
WITH s AS (SELECT * FROM {table})
SELECT 'unbridged year' AS rule, side, year, region_type, region_code, cluster_code, emp, native_emp
FROM s
WHERE side = 'us' AND (naics_vintage IS NULL OR naics_vintage NOT IN ('2002', '2007', '2012', '2017', '2022'))
UNION ALL
SELECT 'rate from unsound', s.side, s.year, s.region_type, s.region_code, s.cluster_code, s.emp, s.native_emp
FROM s
JOIN s AS b ON b.side = s.side AND b.year = s.base_year AND b.region_type = s.region_type
    AND b.region_code = s.region_code AND b.cluster_code = s.cluster_code
    AND b.nuts_version IS NOT DISTINCT FROM s.nuts_version
WHERE s.cagr IS NOT NULL AND b.growth_basis <> 'ok'
UNION ALL
SELECT 'differs from native', side, year, region_type, region_code, cluster_code, emp, native_emp
FROM s
WHERE (side = 'eu' OR naics_vintage = '2012')
  AND abs(coalesce(emp, 0) - coalesce(native_emp, 0)) > $tolerance * greatest(abs(coalesce(native_emp, 0)), 1)
ORDER BY rule, side, year, region_type, region_code, cluster_code
