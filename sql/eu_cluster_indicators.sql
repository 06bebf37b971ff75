-- EU cluster indicators per year × region × cluster (European Cluster Observatory style).
-- Input: eu_cluster_totals(year, region_type, region_code, nuts_version, cluster_code, traded,
--        emp, emp_reported, est, payroll, emp_payroll) from pipelines.eu_clusters.apportion.
-- Parameters (named, DuckDB):
--   $scope           VARCHAR[] country codes forming the European reference, NULL = all present
--   $star_top_share  share of regions that gets the size / focus stars (0.10)
--   $star_lq         LQ threshold of the specialisation star (2.0)
-- European reference: the sum of the country rows (region_type 'nuts0') in scope, per year and
-- cluster. LQ as in the US table: traded clusters against the region's TRADED employment and the
-- European traded total; local clusters against LOCAL.
-- wage = payroll (EUR thousand) × 1000 / employment of the cells with known payroll (EUR per
-- person employed). Stars per year × region_type × cluster among regions in scope with emp:
--   star_size: top $star_top_share of regions by emp (cume_dist over emp desc ≤ share)
--   star_specialisation: lq ≥ $star_lq
--   star_focus: top $star_top_share by region_emp_share (cluster share of the region's traded,
--               or local, employment)
-- Nulls stay null: a region × cluster without employment gets no LQ and no stars.
-- Stars rate traded clusters only (as the US strong flag); local clusters get NULL stars.
WITH t AS (
    SELECT
        year, region_type, region_code, nuts_version, cluster_code,
        coalesce(traded, false) AS traded,
        CAST(emp AS DOUBLE) AS emp,
        CAST(emp_reported AS DOUBLE) AS emp_reported,
        CAST(est AS DOUBLE) AS est,
        CAST(payroll AS DOUBLE) AS payroll,
        CAST(emp_payroll AS DOUBLE) AS emp_payroll,
        region_type = 'custom'
            OR CAST($scope AS VARCHAR[]) IS NULL
            OR list_contains(CAST($scope AS VARCHAR[]), substr(region_code, 1, 2)) AS in_scope
    FROM eu_cluster_totals
),
region_base AS (
    SELECT year, region_type, region_code, nuts_version, traded, sum(emp) AS region_base_emp
    FROM t
    GROUP BY ALL
),
europe AS (
    SELECT year, cluster_code, any_value(traded) AS traded, sum(emp) AS europe_cluster_emp,
           count(emp) AS n_countries
    FROM t
    WHERE region_type = 'nuts0' AND in_scope
    GROUP BY ALL
),
europe_base AS (
    SELECT year, traded, sum(europe_cluster_emp) AS europe_base_emp
    FROM europe
    GROUP BY ALL
),
base AS (
    SELECT
        t.*,
        rb.region_base_emp,
        e.europe_cluster_emp,
        eb.europe_base_emp,
        e.n_countries,
        t.emp / nullif(rb.region_base_emp, 0) AS region_emp_share,
        t.emp / nullif(e.europe_cluster_emp, 0) AS cluster_emp_share,
        (t.emp / nullif(rb.region_base_emp, 0))
            / nullif(e.europe_cluster_emp / nullif(eb.europe_base_emp, 0), 0) AS lq,
        t.payroll * 1000.0 / nullif(t.emp_payroll, 0) AS wage
    FROM t
    JOIN region_base AS rb USING (year, region_type, region_code, nuts_version, traded)
    LEFT JOIN europe AS e USING (year, cluster_code)
    LEFT JOIN europe_base AS eb ON eb.year = t.year AND eb.traded = t.traded
),
ranked AS (
    SELECT
        b.*,
        CASE WHEN in_scope AND emp IS NOT NULL THEN
            cume_dist() OVER (
                PARTITION BY year, region_type, cluster_code, (in_scope AND emp IS NOT NULL)
                ORDER BY emp DESC
            )
        END AS size_cume,
        CASE WHEN in_scope AND region_emp_share IS NOT NULL THEN
            cume_dist() OVER (
                PARTITION BY year, region_type, cluster_code,
                    (in_scope AND region_emp_share IS NOT NULL)
                ORDER BY region_emp_share DESC
            )
        END AS focus_cume
    FROM base AS b
),
firsts AS (
    SELECT
        region_type, region_code, nuts_version, cluster_code,
        min(year) AS base_year,
        arg_min(emp, year) AS base_emp
    FROM base
    WHERE emp IS NOT NULL
    GROUP BY ALL
),
starred AS (
    SELECT
        r.*,
        f.base_year,
        f.base_emp,
        CASE WHEN r.size_cume IS NOT NULL THEN r.size_cume <= $star_top_share + 1e-9 END
            AS star_size,
        CASE WHEN r.in_scope AND r.lq IS NOT NULL THEN r.lq >= $star_lq END AS star_specialisation,
        CASE WHEN r.focus_cume IS NOT NULL THEN r.focus_cume <= $star_top_share + 1e-9 END
            AS star_focus
    FROM ranked AS r
    LEFT JOIN firsts AS f USING (region_type, region_code, nuts_version, cluster_code)
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
    base_year,
    base_emp,
    CASE WHEN year > base_year THEN emp - base_emp END AS job_creation,
    CASE
        WHEN year > base_year AND base_emp > 0 AND emp >= 0
            THEN power(emp / base_emp, 1.0 / (year - base_year)) - 1
    END AS cagr,
    CASE WHEN traded THEN star_size END AS star_size,
    CASE WHEN traded THEN star_specialisation END AS star_specialisation,
    CASE WHEN traded THEN star_focus END AS star_focus,
    CASE
        WHEN traded AND in_scope AND emp IS NOT NULL
            THEN CAST(coalesce(star_size, false) AS INTEGER)
                + CAST(coalesce(star_specialisation, false) AS INTEGER)
                + CAST(coalesce(star_focus, false) AS INTEGER)
    END AS stars,
    in_scope,
    region_base_emp,
    europe_cluster_emp,
    europe_base_emp,
    n_countries AS europe_n_countries
FROM starred
ORDER BY region_type, region_code, cluster_code, year
