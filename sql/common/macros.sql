-- Shared SQL rules, created before the indicator families run (pipelines.warehouse.sql.create_macros).
-- NAICS vintage of a harmonised row: the file's own vintage, detected from its codes at staging
-- (pipelines.staging.harmonise.detect_naics_vintage, the year rule as the prior) and carried in
-- `classification` ('NAICS2012' → '2012'). Rows are joined to the cluster definitions of that
-- vintage (2017 and 2022: derived from 2012 through the concordance, weights in cluster_naics).
-- There is deliberately no year → vintage rule here: the year rule lives once, in
-- pipelines.staging.harmonise.cbp_naics_vintage.
CREATE OR REPLACE MACRO naics_vintage(classification) AS
    CASE WHEN classification SIMILAR TO 'NAICS[0-9]{4}' THEN substr(classification, 6) END;
-- Exact sum of doubles: each term fixed to 18 decimals and summed as DECIMAL, so the result does
-- not depend on the order DuckDB adds in (parallel float sums differ in the last bits between
-- identical rebuilds, which changed the content hash of the indicator-family tables).
CREATE OR REPLACE MACRO xsum(x) AS CAST(sum(CAST(x AS DECIMAL(38, 18))) AS DOUBLE);
