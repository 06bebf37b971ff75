-- Cluster indicators per year × region × cluster (clustermapping.us rules).
-- Inputs: cluster_totals(year, region_type, region_code, cluster_code, emp, emp_reported, est,
--         payroll), clusters(cluster_code, traded).
-- National reference per year and region type: region_type 'country' rows when the year has
-- them, else the sum of the regions of that type (column national_reference says which);
-- 'custom' regions (user-defined groups) use the states' (else counties') sum.
-- LQ: traded clusters against the region's TRADED employment and the national traded total;
-- local clusters against LOCAL. wage = payroll ($1000) × 1000 / emp_reported.
-- strong (traded, per year × region type × cluster, among regions with emp > 0):
--   lq ≥ P[$strong_lq_pct](lq) AND emp > P[$size_pct](emp) AND est > P[$size_pct](est) AND lq ≥ $min_lq
-- strong10: the same with P[$strong10_lq_pct](lq). Percentiles interpolate linearly.
-- ranked_among: the region type whose distribution the percentiles and ranks come from. A region
-- is ranked among its own type; a 'custom' region among the regions of its members' type
-- (custom_regions.base_type: a group of states among the states, of counties among the counties),
-- so it can be strong. The peers' thresholds and ranks are the peers' own: a custom region is
-- placed in their distribution (emp_rank = 1 + peers with more jobs) and never moves them. A
-- custom region whose base type is unknown (supplied totals without custom_regions) is ranked
-- among nothing: ranked_among, strong, strong10 and the ranks are null. So is a CBP "statewide"
-- code (county XX999, macro cbp_statewide): not a place, it is never among the counties' peers,
-- though its employment counts in the sum of the regions (the national reference).
-- definition_vintage: the NAICS vintage(s) of the cluster definitions used in the year (from
-- cluster_totals; NULL for totals without it).
-- Growth (issue 19): only from sound bases. growth_basis (macro growth_basis, sql/common/macros.sql)
-- rates the row as a growth start: partial_coverage (region-year coverage from region_coverage <
-- $min_coverage), small_base (emp < $min_growth_base), imputed_base (no reported employment
-- behind emp > 0: EMPFLAG midpoints only), else ok. base_year = the region × cluster's first
-- sound ('ok') year; job_creation and cagr run from it to every later year whose coverage is not
-- partial (a window never ends in a partial year); other rows keep their levels, rates NULL.
-- vintage_break: the window base_year → year spans a change of definition vintage AND the
-- definition effect (definition_effect: the cluster's national total on these definitions over
-- its total on the 2012-based constant definitions − 1) is material — above
-- $max_definition_effect in absolute value — or unknown at either end (NULL: e.g. NAICS 1997
-- years, which no concordance bridges, or totals supplied without the series).
WITH t AS (
    SELECT
        ct.year, ct.region_type, ct.region_code, ct.cluster_code, c.traded,
        CAST(ct.emp AS DOUBLE) AS emp,
        CAST(ct.emp_reported AS DOUBLE) AS emp_reported,
        CAST(ct.est AS DOUBLE) AS est,
        CAST(ct.payroll AS DOUBLE) AS payroll,
        ct.definition_vintage
    FROM cluster_totals AS ct
    JOIN clusters AS c USING (cluster_code)
),
coverage AS (
    SELECT year, region_type, region_code, six_digit_emp / nullif(total_emp, 0) AS coverage
    FROM region_coverage
),
year_vintage AS (
    SELECT year, string_agg(DISTINCT definition_vintage, ',' ORDER BY definition_vintage) AS definition_vintage
    FROM t
    WHERE definition_vintage IS NOT NULL
    GROUP BY year
),
region_base AS (
    SELECT year, region_type, region_code, traded, sum(emp) AS region_base_emp
    FROM t
    GROUP BY ALL
),
country_years AS (
    SELECT DISTINCT year FROM t WHERE region_type = 'country'
),
region_sums AS (
    SELECT year, region_type, cluster_code, any_value(traded) AS traded, sum(emp) AS sum_emp
    FROM t
    WHERE region_type NOT IN ('country', 'custom')
    GROUP BY ALL
),
-- User-defined ('custom') regions are compared with the nation, taken as the sum of the most
-- complete base level present: states, else counties, else MSAs.
reference_type AS (
    SELECT
        year,
        arg_min(region_type, CASE region_type WHEN 'state' THEN 1 WHEN 'county' THEN 2 ELSE 3 END)
            AS region_type
    FROM region_sums
    GROUP BY year
),
nat_sum AS (
    SELECT * FROM region_sums
    UNION ALL
    SELECT s.year, 'custom', s.cluster_code, s.traded, s.sum_emp
    FROM region_sums AS s
    JOIN reference_type AS r USING (year, region_type)
    WHERE EXISTS (SELECT 1 FROM t WHERE t.region_type = 'custom' AND t.year = s.year)
),
nat AS (
    SELECT
        s.year, s.region_type, s.cluster_code, s.traded,
        CASE WHEN cy.year IS NOT NULL THEN nc.emp ELSE s.sum_emp END AS national_cluster_emp,
        CASE WHEN cy.year IS NOT NULL THEN 'national rows' ELSE 'sum of regions' END
            AS national_reference
    FROM nat_sum AS s
    LEFT JOIN country_years AS cy USING (year)
    LEFT JOIN t AS nc
        ON nc.region_type = 'country' AND nc.year = s.year AND nc.cluster_code = s.cluster_code
    UNION ALL
    SELECT year, region_type, cluster_code, traded, emp, 'national rows'
    FROM t
    WHERE region_type = 'country'
),
nat_base AS (
    SELECT year, region_type, traded, sum(national_cluster_emp) AS national_base_emp
    FROM nat
    GROUP BY ALL
),
measures AS (
    SELECT
        t.*,
        rb.region_base_emp,
        n.national_cluster_emp,
        nb.national_base_emp,
        n.national_reference,
        t.emp / nullif(rb.region_base_emp, 0) AS region_emp_share,
        t.emp / nullif(n.national_cluster_emp, 0) AS cluster_emp_share,
        (t.emp / nullif(rb.region_base_emp, 0))
            / nullif(n.national_cluster_emp / nullif(nb.national_base_emp, 0), 0) AS lq,
        t.payroll * 1000.0 / nullif(t.emp_reported, 0) AS wage,
        growth_basis(cv.coverage, t.emp, t.emp_reported, $min_coverage, $min_growth_base) AS growth_basis
    FROM t
    JOIN region_base AS rb USING (year, region_type, region_code, traded)
    LEFT JOIN nat AS n USING (year, region_type, cluster_code)
    LEFT JOIN nat_base AS nb USING (year, region_type, traded)
    LEFT JOIN coverage AS cv USING (year, region_type, region_code)
),
custom_peer AS (
    SELECT region_code, any_value(base_type) AS base_type
    FROM custom_regions
    WHERE base_type IN ('state', 'county', 'msa')
    GROUP BY ALL
),
base AS (
    SELECT
        b.*,
        CASE
            WHEN b.region_type = 'custom' THEN cp.base_type
            WHEN cbp_statewide(b.region_type, b.region_code) THEN NULL
            ELSE b.region_type
        END AS ranked_among
    FROM measures AS b
    LEFT JOIN custom_peer AS cp ON b.region_type = 'custom' AND cp.region_code = b.region_code
),
-- the peers' distribution: regions of the type itself, never a custom region
pct AS (
    SELECT
        year, region_type AS ranked_among, cluster_code,
        quantile_cont(lq, $strong_lq_pct) AS lq_p_strong,
        quantile_cont(lq, $strong10_lq_pct) AS lq_p_strong10,
        quantile_cont(emp, $size_pct) AS emp_p,
        quantile_cont(est, $size_pct) AS est_p
    FROM base
    WHERE traded AND region_type NOT IN ('country', 'custom') AND ranked_among IS NOT NULL AND emp > 0
    GROUP BY ALL
),
-- a custom region's place among its peers (rank() with NULLS LAST, as if inserted among them)
custom_ranks AS (
    SELECT
        c.year, c.region_type, c.region_code, c.cluster_code,
        1 + count(p.region_code) FILTER (WHERE p.emp > c.emp OR (c.emp IS NULL AND p.emp IS NOT NULL))
            AS emp_rank,
        1 + count(p.region_code) FILTER (WHERE p.lq > c.lq OR (c.lq IS NULL AND p.lq IS NOT NULL))
            AS lq_rank
    FROM base AS c
    JOIN base AS p
        ON p.year = c.year AND p.region_type = c.ranked_among AND p.cluster_code = c.cluster_code
        AND p.ranked_among IS NOT NULL
    WHERE c.region_type = 'custom'
    GROUP BY ALL
),
-- ranks within year × region type × cluster, windowed over the key and the two values only (a
-- window over the full rows carries every column through its sort), custom regions' from custom_ranks
ranks AS (
    SELECT year, region_type, region_code, cluster_code,
        rank() OVER (PARTITION BY year, region_type, cluster_code ORDER BY emp DESC NULLS LAST) AS emp_rank,
        rank() OVER (PARTITION BY year, region_type, cluster_code ORDER BY lq DESC NULLS LAST) AS lq_rank
    FROM base
    WHERE region_type <> 'custom' AND ranked_among IS NOT NULL
    UNION ALL
    SELECT year, region_type, region_code, cluster_code, emp_rank, lq_rank FROM custom_ranks
),
firsts AS (
    SELECT
        b.region_type, b.region_code, b.cluster_code,
        min(b.year) AS base_year,
        arg_min(b.emp, b.year) AS base_emp
    FROM base AS b
    WHERE b.growth_basis = 'ok'
    GROUP BY ALL
),
qualified AS (
    SELECT
        b.*,
        f.base_year,
        f.base_emp,
        b.emp > 0 AND b.emp > p.emp_p AND b.est > p.est_p AND b.lq >= $min_lq AS qualifies,
        p.lq_p_strong,
        p.lq_p_strong10,
        yv.definition_vintage AS year_vintage,
        bv.definition_vintage AS base_vintage,
        b.growth_basis,
        coalesce(abs(ye.definition_effect) > $max_definition_effect, true)
            OR coalesce(abs(be.definition_effect) > $max_definition_effect, true) AS effect_material
    FROM base AS b
    LEFT JOIN pct AS p USING (year, ranked_among, cluster_code)
    LEFT JOIN firsts AS f USING (region_type, region_code, cluster_code)
    LEFT JOIN year_vintage AS yv ON yv.year = b.year
    LEFT JOIN year_vintage AS bv ON bv.year = f.base_year
    LEFT JOIN definition_effect AS ye ON ye.year = b.year AND ye.cluster_code = b.cluster_code
    LEFT JOIN definition_effect AS be ON be.year = f.base_year AND be.cluster_code = b.cluster_code
)
SELECT
    year,
    region_type,
    region_code,
    cluster_code,
    CASE WHEN traded THEN 'traded' ELSE 'local' END AS cluster_type,
    emp,
    emp_reported,
    est,
    payroll,
    wage,
    lq,
    region_emp_share,
    cluster_emp_share,
    ranked_among,
    CASE
        WHEN NOT traded OR region_type = 'country' OR ranked_among IS NULL THEN NULL
        ELSE coalesce(qualifies AND lq >= lq_p_strong, false)
    END AS strong,
    CASE
        WHEN NOT traded OR region_type = 'country' OR ranked_among IS NULL THEN NULL
        ELSE coalesce(qualifies AND lq >= lq_p_strong10, false)
    END AS strong10,
    base_year,
    base_emp,
    CASE WHEN year > base_year AND growth_basis <> 'partial_coverage' THEN emp - base_emp END
        AS job_creation,
    CASE
        WHEN year > base_year AND growth_basis <> 'partial_coverage' AND base_emp > 0 AND emp >= 0
            THEN power(emp / base_emp, 1.0 / (year - base_year)) - 1
    END AS cagr,
    year_vintage AS definition_vintage,
    CASE
        WHEN year > base_year AND growth_basis <> 'partial_coverage'
            THEN year_vintage <> base_vintage AND effect_material
    END AS vintage_break,
    growth_basis,
    rk.emp_rank,
    rk.lq_rank,
    region_base_emp,
    national_cluster_emp,
    national_base_emp,
    national_reference
FROM qualified
LEFT JOIN ranks AS rk USING (year, region_type, region_code, cluster_code)
-- No ORDER BY: the release writer sorts every table by its schema's sort keys
-- (assets/schemas/cluster_indicators.yaml), so a sort here would be done twice.
