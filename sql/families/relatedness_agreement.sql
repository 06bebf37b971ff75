-- Agreement between the co-location relatedness (sql/families/cluster_relatedness.sql) and the reference
-- relatedness (clustermapping.us related_clusters), per region type × year, over the unordered
-- pairs of traded clusters that both appear in the reference table (a cluster the reference
-- does not list cannot be scored). Inputs: family_cluster_relatedness, related_clusters.
--   auc: probability that a reference-related pair has a higher φ than an unrelated pair
--        (Mann-Whitney, ties half; 0.5 = no agreement, 1 = perfect)
--   precision_at_k: share of reference-related pairs among the k pairs with the highest φ,
--        k = the number of reference-related pairs (ties at the cut-off included by rank)
WITH listed AS (
    SELECT cluster_code FROM related_clusters UNION SELECT related_cluster_code FROM related_clusters
),
pairs AS (
    SELECT x.region_type, x.year, x.cluster_code, x.related_cluster_code, x.proximity, x.reference_related
    FROM family_cluster_relatedness AS x
    WHERE CAST(x.cluster_code AS INTEGER) < CAST(x.related_cluster_code AS INTEGER)
        AND x.proximity IS NOT NULL
        AND x.cluster_code IN (SELECT cluster_code FROM listed)
        AND x.related_cluster_code IN (SELECT cluster_code FROM listed)
),
ranked AS (
    SELECT
        *,
        rank() OVER w_asc + (count(*) OVER (PARTITION BY region_type, year, proximity) - 1) / 2.0 AS avg_rank,
        rank() OVER (PARTITION BY region_type, year ORDER BY proximity DESC) AS desc_rank,
        count(*) FILTER (WHERE reference_related) OVER (PARTITION BY region_type, year) AS k
    FROM pairs
    WINDOW w_asc AS (PARTITION BY region_type, year ORDER BY proximity)
),
agg AS (
    SELECT
        region_type, year,
        count(*) AS n_pairs,
        count(*) FILTER (WHERE reference_related) AS n_reference_pairs,
        avg(proximity) FILTER (WHERE reference_related) AS mean_proximity_reference,
        avg(proximity) FILTER (WHERE NOT reference_related) AS mean_proximity_other,
        sum(avg_rank) FILTER (WHERE reference_related) AS rank_sum,
        count(*) FILTER (WHERE desc_rank <= k) AS n_top,
        count(*) FILTER (WHERE desc_rank <= k AND reference_related) AS n_top_reference
    FROM ranked
    GROUP BY ALL
)
SELECT
    region_type,
    year,
    n_pairs,
    n_reference_pairs,
    mean_proximity_reference,
    mean_proximity_other,
    (rank_sum - n_reference_pairs * (n_reference_pairs + 1) / 2.0)
        / nullif(n_reference_pairs * (n_pairs - n_reference_pairs), 0) AS auc,
    n_top_reference / nullif(n_top, 0) AS precision_at_k
FROM agg
