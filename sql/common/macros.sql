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
-- Quality of a region × cluster × year row as the START of a growth window (issue 19), the one
-- rule every growth rate uses (cluster_indicators, eu_cluster_indicators, the family panel):
--   partial_coverage  the region-year's 6-digit rows cover less than min_coverage of its total
--                     employment (region_coverage; NULL coverage = not measured, not partial)
--   small_base        employment under min_base persons
--   imputed_base      positive employment with no reported employment behind it (US: EMPFLAG
--                     midpoints only; EU: confidential cells filled from the parent region only)
--   ok                a sound base. NULL when emp is NULL (no data).
-- As the END of a window only partial_coverage disqualifies a row (a decline to a small or
-- imputed level is still a decline).
CREATE OR REPLACE MACRO growth_basis(coverage, emp, emp_reported, min_coverage, min_base) AS
    CASE
        WHEN emp IS NULL THEN NULL
        WHEN coverage < min_coverage THEN 'partial_coverage'
        WHEN emp < min_base THEN 'small_base'
        WHEN emp > 0 AND coalesce(emp_reported, 0) = 0 THEN 'imputed_base'
        ELSE 'ok'
    END;
-- Evaluating a flag or a score against an outcome (sql/families/emerging_backtest.sql), as
-- aggregates over the rows of a group:
-- AUC by the rank-sum (Mann–Whitney) formula from each row's average rank (ties counted half):
--   (Σ ranks of the positives − n₁(n₁ + 1)/2) / (n₁ · n₀); NULL without positives or negatives.
CREATE OR REPLACE MACRO rank_sum_auc(avg_rank, positive) AS
    (sum(avg_rank) FILTER (WHERE positive)
        - count(*) FILTER (WHERE positive) * (count(*) FILTER (WHERE positive) + 1) / 2.0)
    / nullif(count(*) FILTER (WHERE positive) * count(*) FILTER (WHERE NOT positive), 0);
-- Lift: the outcome's rate among the flagged rows over its rate among the rest (NULL when either
-- group is empty or the rest's rate is 0).
CREATE OR REPLACE MACRO flag_lift(flag, outcome) AS
    (count(*) FILTER (WHERE flag AND outcome) / nullif(count(*) FILTER (WHERE flag), 0))
    / nullif(count(*) FILTER (WHERE NOT flag AND outcome) / nullif(count(*) FILTER (WHERE NOT flag), 0), 0);
-- A CBP county file's "statewide" code, county 999 of a state (XX999): establishments with no
-- fixed location within the state. Not a place: its employment counts in the sums of regions
-- (the national reference of a county run), but it is never ranked among the counties, never
-- strong, and never in a family table (the US analogue of an EU extra-regio code).
CREATE OR REPLACE MACRO cbp_statewide(region_type, region_code) AS
    region_type = 'county' AND region_code SIMILAR TO '[0-9]{2}999';
