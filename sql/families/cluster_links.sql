-- Cluster-to-cluster links from the reference relatedness (clustermapping.us related_clusters):
-- per region × year × traded cluster, its related clusters in the region.
-- Inputs: family_panel (sql/families/panel.sql), related_clusters (reference; every listed pair
-- counts as related, in both directions), family_scope (sql/families/scope.sql: rows with data
-- the indicator table ranks; never EU extra-regio codes or overlapping NUTS versions). No parameters.
--   n_related                 related clusters listed in the reference
--   n_related_strong          of those, strong in the region
--   related_emp               their combined employment in the region
--   related_lq                LQ of their union: (related_emp / region traded employment) /
--                             (reference related employment / reference traded employment)
--   strong_related_clusters   codes of the strong related clusters ('; '-separated, by code):
--                             for a strong cluster these are its links in the region's portfolio
WITH p AS (
    SELECT f.* FROM family_scope AS f  -- the panel rows in scope
    WHERE f.traded AND f.region_type <> 'country'
),
-- one row per region cell with an integer region-year number (rid: its keys in order) and its
-- employment fixed to the 18 decimals of xsum once, so the region × cluster × related-cluster
-- rows below join and group on integers and sum exact DECIMALs (the same sums as xsum per row)
regions AS (
    -- numbered once per region-year (not by a window over all its cells)
    SELECT *, row_number() OVER (ORDER BY year, region_type, region_code) AS rid
    FROM (SELECT DISTINCT year, region_type, region_code FROM p)
),
k AS (
    SELECT a.cluster_code, a.strong, g.rid,
        CAST(a.emp AS DECIMAL(38, 18)) AS emp_x, CAST(a.ref_emp AS DECIMAL(38, 18)) AS ref_emp_x,
        a.year, a.region_type, a.region_code
    FROM p AS a
    JOIN regions AS g USING (year, region_type, region_code)
),
pairs AS (
    SELECT DISTINCT cluster_code, related_cluster_code FROM related_clusters
    WHERE cluster_code <> related_cluster_code
    UNION
    SELECT DISTINCT related_cluster_code, cluster_code FROM related_clusters
    WHERE cluster_code <> related_cluster_code
),
-- each region cell with its related clusters, materialised first: joined the other way round
-- (cell × cell of the region, then the pairs) the planner built all R·C² region rows
candidates AS MATERIALIZED (
    SELECT a.rid, a.cluster_code, r.related_cluster_code
    FROM k AS a JOIN pairs AS r ON r.cluster_code = a.cluster_code
),
linked_k AS (
    SELECT
        a.rid, a.cluster_code,
        count(*) AS n_related,
        count(*) FILTER (WHERE b.strong) AS n_related_strong,
        CAST(sum(b.emp_x) AS DOUBLE) AS related_emp,
        CAST(sum(b.ref_emp_x) AS DOUBLE) AS related_ref_emp,
        string_agg(b.cluster_code, '; ' ORDER BY CAST(b.cluster_code AS INTEGER)) FILTER (WHERE b.strong)
            AS strong_related_clusters
    FROM candidates AS a
    JOIN k AS b ON b.rid = a.rid AND b.cluster_code = a.related_cluster_code
    GROUP BY a.rid, a.cluster_code
),
linked AS (
    SELECT g.year, g.region_type, g.region_code, l.* EXCLUDE (rid)
    FROM linked_k AS l
    JOIN regions AS g USING (rid)
)
SELECT
    a.region_type,
    a.region_code,
    a.cluster_code,
    a.year,
    a.emp,
    a.lq,
    a.strong,
    coalesce(l.n_related, 0) AS n_related,
    coalesce(l.n_related_strong, 0) AS n_related_strong,
    l.related_emp,
    (l.related_emp / nullif(a.region_base_emp, 0))
        / nullif(l.related_ref_emp / nullif(a.ref_base_emp, 0), 0) AS related_lq,
    l.strong_related_clusters
FROM p AS a
LEFT JOIN linked AS l USING (year, region_type, region_code, cluster_code)
