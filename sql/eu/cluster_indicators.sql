-- EU cluster indicators per year × region × cluster: US-style indicators plus two named star systems.
-- Input: eu_cluster_totals(year, region_type, region_code, nuts_version, cluster_code, traded,
--        emp, emp_reported, est, payroll, emp_payroll, region_total_emp, extra_regio,
--        custom_base_type) from pipelines.staging.eu_sbs.apportion, read through the view
--        eu_indicator_input (pipelines.warehouse.eu: custom_base_type null when a table lacks it).
-- Parameters (named, DuckDB; defaults in pipelines.warehouse.eu.EU_DEFAULT_PARAMS):
--   $scope               VARCHAR[] countries allowed in the European reference, NULL = all present
--   $fixed_reference     true: the reference is the countries present in EVERY year (so stars and
--                        growth compare over time); false: the countries present in each year
--   $overlap_tolerance   children of one parent whose total employment exceeds the parent's by more
--                        than this share (with several NUTS versions) overlap: the older versions
--                        are not ranked
--   $eco2011_top_share, $eco2011_lq                 European Cluster Observatory (2011) stars
--   $panorama_top_share, $panorama_lq, $panorama_productivity_ratio
--                        European Observatory for Clusters and Industrial Change (Panorama) stars
--   $strong_lq_pct, $size_pct, $min_lq              the US strong-cluster rule (sql/us/cluster_indicators.sql)
--   $min_coverage, $min_growth_base                 growth only from sound bases (issue 19)
--
-- European reference, per year: one set of countries (country rows in scope with employment;
-- with $fixed_reference the countries present in every year). The base (traded, local or total
-- employment) and every cluster total are sums over that same set; the set is on every row
-- (reference_countries).
--
-- Indicators:
--   lq (US-style): (emp / region's traded-or-local emp) / (Europe's cluster emp / Europe's
--     traded-or-local emp); strong: the US rule among ranked regions of the type (countries
--     among the reference countries).
--   lq_total: (emp / region_total_emp) / (Europe's cluster emp / Europe's total emp): the
--     specialisation of both star systems, on total regional (SBS) employment.
--   relative_wage: wage / the cluster's European wage (payroll / persons, reference countries).
-- Stars (traded clusters, ranked regions only, per year × region_type × cluster):
--   eco2011_size            top $eco2011_top_share of regions by emp (cume_dist, descending)
--   eco2011_specialisation  lq_total ≥ $eco2011_lq
--   eco2011_focus           top $eco2011_top_share by total_emp_share (cluster share of the
--                           region's total employment)
--   panorama_size           top $panorama_top_share by emp
--   panorama_specialisation lq_total ≥ $panorama_lq
--   panorama_productivity   relative_wage ≥ $panorama_productivity_ratio
-- Ranked: in the reference countries, not extra-regio (FRZZ…), employment known, and not a
-- region of an older NUTS version overlapping newer codes of the same territory that year
-- (rank_exclusion says why a row is not ranked). Unranked rows keep emp, lq… but get no stars.
-- ranked_among: the region type a row's strong thresholds and stars come from: its own; for a
-- 'custom' region (a group of regions) the type of its members (custom_base_type), placed in the
-- distribution of the ranked regions of that type (size/focus: the share of them at or above it,
-- itself included) without moving their own stars. A custom region of unknown base type is not
-- ranked.
-- Nulls stay null: a region × cluster without employment gets no LQ and no stars.
-- Growth (issue 19): growth_basis (macro growth_basis, sql/common/macros.sql) rates each row as a
-- growth start: partial_coverage (coverage = the share of the cluster's NACE cells that have a
-- value, below $min_coverage: the total is a sum over part of the cluster — SBS has no total row
-- to compare with, so coverage is measured on the cells), small_base (emp < $min_growth_base
-- persons), imputed_base (emp > 0 with no reported employment behind it: only confidential cells
-- filled from the parent region, pipelines.staging.eu_sbs.fill_confidential), else ok.
-- base_year = the first sound year of the region × NUTS version × cluster; job_creation and cagr
-- run from it to every later year whose coverage is not partial; other rows keep levels, rates NULL.
-- Sums are exact (DECIMAL(38, 6)): results never depend on the order DuckDB's threads add rows in.
WITH t AS (
    SELECT
        year, region_type, region_code, nuts_version, cluster_code,
        coalesce(traded, false) AS traded,
        CAST(emp AS DOUBLE) AS emp,
        CAST(emp_reported AS DOUBLE) AS emp_reported,
        CAST(est AS DOUBLE) AS est,
        CAST(payroll AS DOUBLE) AS payroll,
        CAST(emp_payroll AS DOUBLE) AS emp_payroll,
        CAST(region_total_emp AS DOUBLE) AS region_total_emp,
        coalesce(extra_regio, false) AS extra_regio,
        CASE WHEN region_type = 'custom' THEN custom_base_type ELSE region_type END AS ranked_among,
        CAST(n_industries - n_missing AS DOUBLE) / nullif(n_industries, 0) AS coverage,
        substr(region_code, 1, 2) AS country,
        region_type = 'custom'
            OR CAST($scope AS VARCHAR[]) IS NULL
            OR list_contains(CAST($scope AS VARCHAR[]), substr(region_code, 1, 2)) AS in_scope
    FROM eu_indicator_input
),
country_years AS (
    SELECT DISTINCT year, region_code AS country
    FROM t
    WHERE region_type = 'nuts0' AND in_scope AND region_total_emp > 0
),
always AS (
    SELECT country
    FROM country_years
    GROUP BY country
    HAVING count(DISTINCT year) = (SELECT count(DISTINCT year) FROM country_years)
),
ref_set AS (
    SELECT year, country
    FROM country_years
    WHERE NOT CAST($fixed_reference AS BOOLEAN) OR country IN (SELECT country FROM always)
),
ref_list AS (
    SELECT year, list(country ORDER BY country) AS reference_countries,
           count(*) AS reference_n_countries
    FROM ref_set
    GROUP BY year
),
ref AS (
    SELECT t.*
    FROM t
    JOIN ref_set AS r ON t.region_type = 'nuts0' AND t.region_code = r.country AND t.year = r.year
),
europe AS (
    SELECT year, cluster_code, CAST(sum(CAST(emp AS DECIMAL(38, 6))) AS DOUBLE) AS europe_cluster_emp,
           count(emp) AS europe_cluster_n_countries,
           CAST(sum(CAST(payroll AS DECIMAL(38, 6))) AS DOUBLE) * 1000.0 / nullif(CAST(sum(CAST(emp_payroll AS DECIMAL(38, 6))) AS DOUBLE), 0) AS europe_wage
    FROM ref
    GROUP BY ALL
),
europe_base AS (
    SELECT e.year, k.traded, CAST(sum(CAST(e.europe_cluster_emp AS DECIMAL(38, 6))) AS DOUBLE) AS europe_base_emp
    FROM europe AS e
    JOIN (SELECT DISTINCT cluster_code, traded FROM t) AS k USING (cluster_code)
    GROUP BY ALL
),
europe_total AS (
    SELECT year, CAST(sum(CAST(region_total_emp AS DECIMAL(38, 6))) AS DOUBLE) AS europe_total_emp
    FROM (SELECT DISTINCT year, region_code, region_total_emp FROM ref)
    GROUP BY ALL
),
region_base AS (
    SELECT year, region_type, region_code, nuts_version, traded, CAST(sum(CAST(emp AS DECIMAL(38, 6))) AS DOUBLE) AS region_base_emp
    FROM t
    GROUP BY ALL
),
regions AS (
    SELECT DISTINCT year, region_type, region_code, nuts_version, region_total_emp,
           substr(region_code, 1, length(region_code) - 1) AS parent
    FROM t
    WHERE region_type IN ('nuts1', 'nuts2', 'nuts3') AND NOT extra_regio
),
siblings AS (
    SELECT year, region_type, parent,
           count(DISTINCT nuts_version) FILTER (WHERE region_total_emp > 0) AS n_versions,
           max(nuts_version) FILTER (WHERE region_total_emp > 0) AS newest_version,
           CAST(sum(CAST(region_total_emp AS DECIMAL(38, 6))) AS DOUBLE) AS children_emp
    FROM regions
    GROUP BY ALL
),
parents AS (
    SELECT year, region_code AS parent, max(region_total_emp) AS parent_emp
    FROM t
    WHERE region_type <> 'custom'
    GROUP BY ALL
),
overlap_sets AS (
    SELECT s.year, s.region_type, s.parent, s.newest_version
    FROM siblings AS s
    LEFT JOIN parents AS p USING (year, parent)
    WHERE s.n_versions > 1
      AND (p.parent_emp IS NULL OR s.children_emp > p.parent_emp * (1 + $overlap_tolerance))
),
base AS (
    SELECT
        t.*,
        rb.region_base_emp,
        e.europe_cluster_emp,
        e.europe_cluster_n_countries,
        e.europe_wage,
        eb.europe_base_emp,
        et.europe_total_emp,
        rl.reference_countries,
        rl.reference_n_countries,
        t.region_type = 'custom' OR rs.country IS NOT NULL AS in_reference,
        o.parent IS NOT NULL AND t.nuts_version < o.newest_version AS overlapping,
        t.emp / nullif(rb.region_base_emp, 0) AS region_emp_share,
        t.emp / nullif(e.europe_cluster_emp, 0) AS cluster_emp_share,
        (t.emp / nullif(rb.region_base_emp, 0))
            / nullif(e.europe_cluster_emp / nullif(eb.europe_base_emp, 0), 0) AS lq,
        t.emp / nullif(t.region_total_emp, 0) AS total_emp_share,
        (t.emp / nullif(t.region_total_emp, 0))
            / nullif(e.europe_cluster_emp / nullif(et.europe_total_emp, 0), 0) AS lq_total,
        t.payroll * 1000.0 / nullif(t.emp_payroll, 0) AS wage
    FROM t
    JOIN region_base AS rb USING (year, region_type, region_code, nuts_version, traded)
    LEFT JOIN europe AS e USING (year, cluster_code)
    LEFT JOIN europe_base AS eb ON eb.year = t.year AND eb.traded = t.traded
    LEFT JOIN europe_total AS et ON et.year = t.year
    LEFT JOIN ref_list AS rl ON rl.year = t.year
    LEFT JOIN ref_set AS rs ON rs.year = t.year AND rs.country = t.country
    LEFT JOIN overlap_sets AS o
        ON o.year = t.year AND o.region_type = t.region_type
        AND o.parent = substr(t.region_code, 1, length(t.region_code) - 1)
),
flagged AS (
    SELECT
        *,
        CASE
            WHEN extra_regio THEN 'extra-regio'
            WHEN NOT in_reference THEN 'outside the reference countries'
            WHEN overlapping THEN 'overlapping NUTS version'
            WHEN ranked_among IS NULL THEN 'custom region of unknown base type'
            WHEN emp IS NULL THEN 'no employment'
        END AS rank_exclusion,
        wage / nullif(europe_wage, 0) AS relative_wage
    FROM base
),
ranked AS (
    SELECT
        f.*,
        rank_exclusion IS NULL AS ranked,
        CASE WHEN rank_exclusion IS NULL THEN
            cume_dist() OVER (
                PARTITION BY year, region_type, cluster_code, rank_exclusion IS NULL
                ORDER BY emp DESC
            )
        END AS size_cume,
        CASE WHEN rank_exclusion IS NULL AND total_emp_share IS NOT NULL THEN
            cume_dist() OVER (
                PARTITION BY year, region_type, cluster_code,
                    rank_exclusion IS NULL AND total_emp_share IS NOT NULL
                ORDER BY total_emp_share DESC
            )
        END AS focus_cume
    FROM flagged AS f
),
-- a custom region's place among the ranked regions of its members' type (cume_dist as if it
-- were one of them; the peers' own values are unchanged)
custom_place AS (
    SELECT
        c.year, c.region_type, c.region_code, c.nuts_version, c.cluster_code,
        (1 + count(*) FILTER (WHERE p.emp >= c.emp)) / CAST(1 + count(p.emp) AS DOUBLE) AS size_cume,
        CASE WHEN c.total_emp_share IS NOT NULL THEN
            (1 + count(*) FILTER (WHERE p.total_emp_share >= c.total_emp_share))
                / CAST(1 + count(p.total_emp_share) AS DOUBLE)
        END AS focus_cume
    FROM ranked AS c
    LEFT JOIN ranked AS p
        ON p.ranked AND p.year = c.year AND p.region_type = c.ranked_among
        AND p.cluster_code = c.cluster_code
    WHERE c.region_type = 'custom' AND c.ranked
    GROUP BY c.year, c.region_type, c.region_code, c.nuts_version, c.cluster_code, c.emp, c.total_emp_share
),
placed AS (
    SELECT
        r.* REPLACE (
            CASE WHEN r.region_type = 'custom' THEN cp.size_cume ELSE r.size_cume END AS size_cume,
            CASE WHEN r.region_type = 'custom' THEN cp.focus_cume ELSE r.focus_cume END AS focus_cume
        )
    FROM ranked AS r
    LEFT JOIN custom_place AS cp USING (year, region_type, region_code, nuts_version, cluster_code)
),
-- the peers' distribution: ranked regions of the type itself (never a custom region)
pct AS (
    SELECT
        year, region_type AS ranked_among, cluster_code,
        quantile_cont(lq, $strong_lq_pct) AS lq_p_strong,
        quantile_cont(emp, $size_pct) AS emp_p,
        quantile_cont(est, $size_pct) AS est_p
    FROM ranked
    WHERE traded AND ranked AND region_type <> 'custom' AND emp > 0
    GROUP BY ALL
),
basis AS (
    SELECT
        year, region_type, region_code, nuts_version, cluster_code,
        growth_basis(coverage, emp, emp_reported, $min_coverage, $min_growth_base) AS growth_basis
    FROM base
),
firsts AS (
    SELECT
        b.region_type, b.region_code, b.nuts_version, b.cluster_code,
        min(b.year) AS base_year,
        arg_min(b.emp, b.year) AS base_emp
    FROM base AS b
    JOIN basis AS g USING (year, region_type, region_code, nuts_version, cluster_code)
    WHERE g.growth_basis = 'ok'
    GROUP BY ALL
),
starred AS (
    SELECT
        r.*,
        f.base_year,
        f.base_emp,
        g.growth_basis,
        CASE WHEN r.traded AND r.ranked THEN r.size_cume <= $eco2011_top_share + 1e-9 END
            AS eco2011_size,
        CASE WHEN r.traded AND r.ranked THEN coalesce(r.lq_total >= $eco2011_lq, false) END
            AS eco2011_specialisation,
        CASE WHEN r.traded AND r.ranked THEN coalesce(r.focus_cume <= $eco2011_top_share + 1e-9, false) END
            AS eco2011_focus,
        CASE WHEN r.traded AND r.ranked THEN r.size_cume <= $panorama_top_share + 1e-9 END
            AS panorama_size,
        CASE WHEN r.traded AND r.ranked THEN coalesce(r.lq_total >= $panorama_lq, false) END
            AS panorama_specialisation,
        CASE WHEN r.traded AND r.ranked
            THEN coalesce(r.relative_wage >= $panorama_productivity_ratio, false) END
            AS panorama_productivity,
        CASE
            WHEN NOT r.traded OR NOT r.ranked THEN NULL
            ELSE coalesce(
                r.emp > 0 AND r.emp > p.emp_p AND r.est > p.est_p AND r.lq >= $min_lq
                    AND r.lq >= p.lq_p_strong,
                false)
        END AS strong
    FROM placed AS r
    LEFT JOIN pct AS p USING (year, ranked_among, cluster_code)
    LEFT JOIN firsts AS f USING (region_type, region_code, nuts_version, cluster_code)
    LEFT JOIN basis AS g USING (year, region_type, region_code, nuts_version, cluster_code)
)
SELECT
    year,
    region_type,
    region_code,
    nuts_version,
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
    strong,
    ranked_among,
    lq_total,
    total_emp_share,
    relative_wage,
    base_year,
    base_emp,
    CASE WHEN year > base_year AND growth_basis <> 'partial_coverage' THEN emp - base_emp END
        AS job_creation,
    CASE
        WHEN year > base_year AND growth_basis <> 'partial_coverage' AND base_emp > 0 AND emp >= 0
            THEN power(emp / base_emp, 1.0 / (year - base_year)) - 1
    END AS cagr,
    coverage,
    growth_basis,
    eco2011_size,
    eco2011_specialisation,
    eco2011_focus,
    CAST(eco2011_size AS INTEGER) + CAST(eco2011_specialisation AS INTEGER)
        + CAST(eco2011_focus AS INTEGER) AS eco2011_stars,
    panorama_size,
    panorama_specialisation,
    panorama_productivity,
    CAST(panorama_size AS INTEGER) + CAST(panorama_specialisation AS INTEGER)
        + CAST(panorama_productivity AS INTEGER) AS panorama_stars,
    ranked,
    rank_exclusion,
    extra_regio,
    in_scope,
    in_reference,
    region_base_emp,
    region_total_emp,
    europe_cluster_emp,
    europe_base_emp,
    europe_total_emp,
    europe_wage,
    europe_cluster_n_countries,
    reference_n_countries,
    reference_countries
FROM starred
ORDER BY region_type, region_code, nuts_version, cluster_code, year
