-- Regions × years whose 6-digit industry rows account for less than $min_coverage of the source
-- file's total row (region_indicators.coverage): industries are missing from the inputs, so
-- cluster employment, shares and LQs there rest on partial data. NULL coverage (no total row) is
-- not a shortfall and is not listed.
SELECT year, region_type, region_code, total_emp, six_digit_emp,
       round(coverage, 4) AS coverage, round(coverage_reported, 4) AS coverage_reported
FROM {table}
WHERE coverage < $min_coverage
ORDER BY coverage, year, region_type, region_code
