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
    FROM family_panel AS f
    SEMI JOIN family_scope AS s USING (year, region_type, region_code, cluster_code)
    WHERE f.traded AND f.lq IS NOT NULL AND f.region_type NOT IN ('country', 'custom')
),
-- integer keys for the region × pair rows (numbers of the keys in order): rid of a region-year,
-- tid of a region type × year, cid of a cluster; codes are joined back after counting
k AS (
    SELECT present,
        dense_rank() OVER (ORDER BY year, region_type, region_code) AS rid,
        dense_rank() OVER (ORDER BY year, region_type) AS tid,
        dense_rank() OVER (ORDER BY cluster_code) AS cid
    FROM m
),
types AS (SELECT DISTINCT tid, year, region_type FROM (
    SELECT year, region_type, dense_rank() OVER (ORDER BY year, region_type) AS tid FROM m)),
codes AS (SELECT DISTINCT cid, cluster_code FROM (
    SELECT cluster_code, dense_rank() OVER (ORDER BY cluster_code) AS cid FROM m)),
counts_k AS (
    SELECT
        a.tid, a.cid, b.cid AS related_cid,
        count(*) AS n_regions,
        count(*) FILTER (WHERE a.present) AS n_cluster,
        count(*) FILTER (WHERE b.present) AS n_related,
        count(*) FILTER (WHERE a.present AND b.present) AS n_both
    FROM k AS a
    JOIN k AS b ON b.rid = a.rid AND b.cid <> a.cid
    GROUP BY a.tid, a.cid, b.cid
),
counts AS (
    SELECT t.year, t.region_type, c1.cluster_code, c2.cluster_code AS related_cluster_code,
        n.n_regions, n.n_cluster, n.n_related, n.n_both
    FROM counts_k AS n
    JOIN types AS t USING (tid)
    JOIN codes AS c1 ON c1.cid = n.cid
    JOIN codes AS c2 ON c2.cid = n.related_cid
),
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
