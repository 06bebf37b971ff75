-- Shared SQL rules, created before the indicator families run (pipelines.indicators).
-- Cluster-definition vintage of a CBP year, as clustermapping.us maps years to NAICS vintages:
-- < 2003: 1997, < 2008: 2002, < 2013: 2007, < 2017: 2012; then the 2017 and 2022 definitions
-- derived from 2012 through the concordance.
CREATE OR REPLACE MACRO definition_vintage(y) AS
    CASE
        WHEN y < 2003 THEN '1997'
        WHEN y < 2008 THEN '2002'
        WHEN y < 2013 THEN '2007'
        WHEN y < 2017 THEN '2012'
        WHEN y < 2022 THEN '2017'
        ELSE '2022'
    END;
