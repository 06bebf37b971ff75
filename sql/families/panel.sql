-- Common input of the indicator families (shift-share, emerging, diversification, links):
-- one row per year × region × cluster, exposed by pipelines.warehouse.families as view
-- family_source with the stable columns only. Source (issue 19): the constant-definition series
-- cluster_timeseries (the side's rows) when the warehouse has it — so growth over time is on one
-- definition — else the side's indicator table (cluster_indicators / eu_cluster_indicators;
-- supplied or hand-made tables). Column `series` says which.
-- Rows: only regions with data (emp not NULL), never EU extra-regio codes (FRZ, ESZZ …) or CBP
-- statewide codes (county XX999, macro cbp_statewide), nor
-- rank-excluded rows (ranked = false: overlapping NUTS versions, outside the year's reference
-- countries, no employment); so no family table built on the panel contains them.
-- Parameters:
--   $side             'us' or 'eu' (set by pipelines.warehouse.families, not a user parameter)
--   $strong_lq_pct, $size_pct, $min_lq   the US strong rule (pipelines.warehouse.indicators.DEFAULT_PARAMS)
--   $min_coverage, $min_growth_base      growth only from sound bases (macro growth_basis)
--   $max_definition_effect               a cluster-year's definition effect is material above it
-- basis: the row as the START of a growth window (macro growth_basis in sql/common/macros.sql):
-- ok / partial_coverage / small_base / imputed_base; the source's growth_basis when it has one
-- (the series and the indicator tables compute it with the same macro), else computed here.
-- sound = basis = 'ok' (a usable base); sound_end = coverage not partial (a usable window end:
-- a decline to a small or imputed level is still a decline).
-- definition_effect: the cluster's national native total / constant-definition total − 1 in the
-- year (US; 0 for EU, one NACE Rev.2 mapping); definition_material: |definition_effect| >
-- $max_definition_effect, or unknown (NULL effect, e.g. a source without the series).
-- strong: the published flag when the source table has a strong column ($has_strong; US and EU
-- tables both do) — including its deliberate nulls, which no rule may fill; only a source without
-- the column gets the same US rule computed here, per year × region_type × traded cluster among
-- regions with emp > 0: lq ≥ P[$strong_lq_pct](lq), emp > P[$size_pct](emp), est > P[$size_pct](est),
-- lq ≥ $min_lq. strong_source says which.
-- Reference ("national" / "European") per year × cluster: the US 'country' rows when the year
-- has them; else the sum of the EU country rows (nuts0, the year's ranked reference countries);
-- else the sum of the most complete US base level present (state, else county, else msa). Every
-- region type, including custom regions, is compared with that one reference. is_ref marks the
-- rows it sums, so that growth over a window can be taken on the reference cells present at both
-- ends (window measures: the countries present at both ends; per-year measures: the year's).
-- vintage: the NAICS vintage the year's data are coded in (US; the series maps every vintage to
-- the 2012-based definitions, cluster_indicators each to its own); EU rows are NACE Rev.2 throughout.
WITH src AS (
    SELECT
        CAST(year AS INTEGER) AS year, region_type, region_code, cluster_code,
        cluster_type = 'traded' AS traded,
        CAST(emp AS DOUBLE) AS emp, CAST(lq AS DOUBLE) AS lq, strong, CAST(est AS DOUBLE) AS est,
        definition_vintage,
        CAST(coverage AS DOUBLE) AS coverage,
        coalesce(
            growth_basis,
            growth_basis(
                coverage, emp, CASE WHEN $has_reported THEN emp_reported ELSE emp END,
                $min_coverage, $min_growth_base
            )
        ) AS basis,
        CASE WHEN $side = 'eu' THEN coalesce(definition_effect, 0.0) ELSE definition_effect END
            AS definition_effect,
        series
    FROM family_source
    WHERE emp IS NOT NULL
      AND NOT coalesce(extra_regio, false)
      AND NOT cbp_statewide(region_type, region_code)  -- also from an indicator table without the column
      AND coalesce(ranked, true)
),
pct AS (
    SELECT
        year, region_type, cluster_code,
        quantile_cont(lq, $strong_lq_pct) AS lq_p,
        quantile_cont(emp, $size_pct) AS emp_p,
        quantile_cont(est, $size_pct) AS est_p
    FROM src
    -- only a source without a strong column uses the rule (strong_rule is read only then)
    WHERE NOT $has_strong AND traded AND region_type NOT IN ('country') AND emp > 0
    GROUP BY ALL
),
rule AS (
    SELECT
        s.*,
        CASE
            WHEN NOT s.traded OR s.region_type = 'country' THEN NULL
            ELSE coalesce(
                s.emp > 0 AND s.emp > p.emp_p AND s.est > p.est_p AND s.lq >= $min_lq AND s.lq >= p.lq_p,
                false
            )
        END AS strong_rule
    FROM src AS s
    LEFT JOIN pct AS p USING (year, region_type, cluster_code)
),
ref_level AS (
    SELECT
        year,
        arg_min(
            region_type,
            CASE region_type WHEN 'country' THEN 0 WHEN 'nuts0' THEN 1 WHEN 'state' THEN 2
                WHEN 'county' THEN 3 ELSE 4 END
        ) AS ref_type
    FROM src
    WHERE region_type IN ('country', 'nuts0', 'state', 'county', 'msa')
    GROUP BY year
),
ref AS (
    SELECT s.year, s.cluster_code, xsum(s.emp) AS ref_emp,
           any_value(l.ref_type) AS ref_type
    FROM src AS s
    JOIN ref_level AS l ON l.year = s.year AND l.ref_type = s.region_type
    GROUP BY ALL
),
ref_base AS (
    SELECT f.year, c.traded, xsum(f.ref_emp) AS ref_base_emp
    FROM ref AS f
    JOIN (SELECT DISTINCT cluster_code, traded FROM src) AS c USING (cluster_code)
    GROUP BY ALL
),
ref_total AS (
    SELECT year, xsum(ref_emp) AS ref_total_emp FROM ref GROUP BY ALL
),
region_base AS (
    SELECT year, region_type, region_code, traded, xsum(emp) AS region_base_emp FROM src GROUP BY ALL
),
region_total AS (
    SELECT year, region_type, region_code, xsum(emp) AS region_total_emp FROM src GROUP BY ALL
)
SELECT
    r.year, r.region_type, r.region_code, r.cluster_code, r.traded, r.emp, r.lq, r.est,
    CASE WHEN $has_strong THEN r.strong ELSE r.strong_rule END AS strong,
    CASE
        WHEN $has_strong AND r.strong IS NOT NULL THEN 'published'
        WHEN NOT $has_strong AND r.strong_rule IS NOT NULL THEN 'family rule'
    END AS strong_source,
    f.ref_type,
    r.region_type = f.ref_type AS is_ref,
    f.ref_emp,
    fb.ref_base_emp,
    ft.ref_total_emp,
    rb.region_base_emp,
    rt.region_total_emp,
    CASE WHEN $side = 'eu' THEN 'NACE Rev.2' ELSE r.definition_vintage END AS vintage,
    r.coverage,
    r.basis,
    r.basis = 'ok' AS sound,
    r.basis <> 'partial_coverage' AS sound_end,
    r.definition_effect,
    coalesce(abs(r.definition_effect) > $max_definition_effect, true) AS definition_material,
    r.series
FROM rule AS r
LEFT JOIN ref AS f ON f.year = r.year AND f.cluster_code = r.cluster_code
LEFT JOIN ref_base AS fb ON fb.year = r.year AND fb.traded = r.traded
LEFT JOIN ref_total AS ft ON ft.year = r.year
JOIN region_base AS rb
    ON rb.year = r.year AND rb.region_type = r.region_type AND rb.region_code = r.region_code
    AND rb.traded = r.traded
JOIN region_total AS rt
    ON rt.year = r.year AND rt.region_type = r.region_type AND rt.region_code = r.region_code
