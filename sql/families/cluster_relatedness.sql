-- Relatedness measured from the data (co-location): per region type × year × ordered pair of
-- traded clusters, φ = the minimum of the two conditional probabilities that a region holds one
-- cluster (LQ ≥ $rel_min_lq) given that it holds the other (Hidalgo et al. 2007 proximity):
--   φ_ij = n_both / max(n_i, n_j)
-- over the regions of the type with an LQ for both clusters that year, in family_scope
-- (sql/families/scope.sql: never EU extra-regio codes, overlapping NUTS versions or regions
-- without data, which would count a territory twice or a region that says nothing). Custom regions and the
-- national rows do not form a matrix of their own. Published next to the reference relatedness
-- (related_clusters: reference_related, reference_related_avg).
-- Inputs: family_panel, related_clusters. Parameters: $rel_min_lq (default 1.0).
WITH m AS (
    SELECT year, region_type, region_code, cluster_code, lq >= $rel_min_lq AS present
    FROM family_scope AS f  -- the panel rows in scope
    WHERE f.traded AND f.lq IS NOT NULL AND f.region_type NOT IN ('country', 'custom')
),
-- The counts are sums over the regions of products of per-region cell counts, for i ≠ j:
--   n_regions = Σ_r a_ri·a_rj, n_cluster = Σ_r p_ri·a_rj, n_related = Σ_r a_ri·p_rj, n_both = Σ_r p_ri·p_rj
-- (a = the region's panel rows for the cluster, p = those held; a cell in the panel twice counts
-- twice, as a join over the cells would). With d = 1 − a (1 for a cell the region lacks,
-- negative for a repeated cell, 0 for almost every cell), Σ_r a_ri·a_rj = N − D_i − D_j + Σ_r d_ri·d_rj
-- and Σ_r p_ri·a_rj = P_i − Σ_r p_ri·d_rj: only held cells and the rare d ≠ 0 cells are paired,
-- not every cell with every cell of its region. Exact integer arithmetic throughout.
-- one row per cell (a, p: its panel rows and those held) with its region-year's number (rid:
-- the keys in order), grouped, not windowed over every row
regions AS (
    SELECT *, row_number() OVER (ORDER BY year, region_type, region_code) AS rid
    FROM (SELECT DISTINCT year, region_type, region_code FROM m)
),
cell AS (
    SELECT c.year, c.region_type, c.cluster_code, g.rid, c.a, c.p
    FROM (
        SELECT year, region_type, region_code, cluster_code,
            count(*) AS a, count(*) FILTER (WHERE present) AS p
        FROM m
        GROUP BY ALL
    ) AS c
    JOIN regions AS g USING (year, region_type, region_code)
),
regs AS (SELECT DISTINCT year, region_type, rid FROM cell),
universe AS (SELECT DISTINCT year, region_type, cluster_code FROM cell),
dev AS (
    SELECT g.year, g.region_type, g.rid, u.cluster_code,
        1 - coalesce(c.a, 0) AS d, coalesce(c.p, 0) AS p
    FROM regs AS g
    JOIN universe AS u USING (year, region_type)
    LEFT JOIN cell AS c ON c.rid = g.rid AND c.cluster_code = u.cluster_code
),
per_cluster AS (
    SELECT year, region_type, cluster_code, count(*) AS n, sum(d) AS sum_d, sum(p) AS sum_p
    FROM dev GROUP BY ALL
),
dd AS (
    SELECT a.year, a.region_type, a.cluster_code, b.cluster_code AS related_cluster_code, sum(a.d * b.d) AS s
    FROM (SELECT * FROM dev WHERE d <> 0) AS a
    JOIN (SELECT * FROM dev WHERE d <> 0) AS b ON b.rid = a.rid AND b.cluster_code <> a.cluster_code
    GROUP BY ALL
),
pd AS (
    SELECT a.year, a.region_type, a.cluster_code, b.cluster_code AS related_cluster_code, sum(a.p * b.d) AS s
    FROM (SELECT * FROM dev WHERE p <> 0) AS a
    JOIN (SELECT * FROM dev WHERE d <> 0) AS b ON b.rid = a.rid AND b.cluster_code <> a.cluster_code
    GROUP BY ALL
),
pp AS (
    SELECT a.year, a.region_type, a.cluster_code, b.cluster_code AS related_cluster_code, sum(a.p * b.p) AS s
    FROM (SELECT * FROM dev WHERE p <> 0) AS a
    JOIN (SELECT * FROM dev WHERE p <> 0) AS b ON b.rid = a.rid AND b.cluster_code <> a.cluster_code
    GROUP BY ALL
),
counts_all AS (
    SELECT
        ci.year, ci.region_type, ci.cluster_code, cj.cluster_code AS related_cluster_code,
        CAST(ci.n - ci.sum_d - cj.sum_d + coalesce(dd.s, 0) AS BIGINT) AS n_regions,
        CAST(ci.sum_p - coalesce(pd_ij.s, 0) AS BIGINT) AS n_cluster,
        CAST(cj.sum_p - coalesce(pd_ji.s, 0) AS BIGINT) AS n_related,
        CAST(coalesce(pp.s, 0) AS BIGINT) AS n_both
    FROM per_cluster AS ci
    JOIN per_cluster AS cj ON cj.year = ci.year AND cj.region_type = ci.region_type
        AND cj.cluster_code <> ci.cluster_code
    LEFT JOIN dd ON dd.year = ci.year AND dd.region_type = ci.region_type
        AND dd.cluster_code = ci.cluster_code AND dd.related_cluster_code = cj.cluster_code
    LEFT JOIN pd AS pd_ij ON pd_ij.year = ci.year AND pd_ij.region_type = ci.region_type
        AND pd_ij.cluster_code = ci.cluster_code AND pd_ij.related_cluster_code = cj.cluster_code
    LEFT JOIN pd AS pd_ji ON pd_ji.year = ci.year AND pd_ji.region_type = ci.region_type
        AND pd_ji.cluster_code = cj.cluster_code AND pd_ji.related_cluster_code = ci.cluster_code
    LEFT JOIN pp ON pp.year = ci.year AND pp.region_type = ci.region_type
        AND pp.cluster_code = ci.cluster_code AND pp.related_cluster_code = cj.cluster_code
),
-- a pair no region has both cells of has no row (as in a join over the cells)
counts AS (SELECT * FROM counts_all WHERE n_regions > 0),
ref AS (
    SELECT cluster_code, related_cluster_code, max(related_avg) AS related_avg FROM (
        SELECT cluster_code, related_cluster_code, related_avg FROM related_clusters
        UNION ALL
        SELECT related_cluster_code, cluster_code, related_avg FROM related_clusters
    )
    GROUP BY ALL
)
SELECT
    c.region_type,
    c.year,
    c.cluster_code,
    c.related_cluster_code,
    c.n_regions,
    c.n_cluster,
    c.n_related,
    c.n_both,
    c.n_both / nullif(greatest(c.n_cluster, c.n_related), 0) AS proximity,
    r.cluster_code IS NOT NULL AS reference_related,
    r.related_avg AS reference_related_avg
FROM counts AS c
LEFT JOIN ref AS r USING (cluster_code, related_cluster_code)
