-- industry_level must be the number of digits of industry_code (0 for TOTAL).
SELECT year, region_type, region_code, classification, industry_code, industry_level, lfo
FROM {table}
WHERE industry_level IS DISTINCT FROM
      CASE WHEN industry_code = 'TOTAL' THEN 0 ELSE length(industry_code) END
ORDER BY year, region_code, industry_code
