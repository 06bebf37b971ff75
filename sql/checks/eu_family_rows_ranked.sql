-- The EU indicator families (issue 19) publish no row the EU indicator table ({table},
-- eu_cluster_indicators) excludes from its rankings: no extra-regio code (FRZZ …), no older NUTS
-- version overlapping newer codes, no region outside the reference, no region × cluster without
-- employment, nothing the indicator table does not hold; and the co-location matrix (φ) counts
-- no more regions of a type than the ranked regions with an LQ. Returns each offending row with
-- its family table and the reason. Covers the families that read other inputs or all regions
-- (sql/families/diversification.sql, cluster_links.sql, relatedness_density.sql, cluster_relatedness.sql)
-- and the window families on the common panel (shift_share.sql, emerging.sql: both window ends).
WITH cells AS (
    SELECT year, region_type, region_code, cluster_code, cluster_type, lq,
        CASE
            WHEN rank_exclusion IS NOT NULL THEN rank_exclusion
            WHEN emp IS NULL THEN 'no employment'
        END AS reason
    FROM {table}
),
regions AS (
    SELECT year, region_type, region_code,
        bool_or(reason IS NULL) AS has_ranked_data,
        min(reason) AS reason
    FROM cells
    GROUP BY ALL
),
row_tables AS (
    SELECT 'eu_cluster_links' AS family_table, year, region_type, region_code, cluster_code FROM eu_cluster_links
    UNION ALL
    SELECT 'eu_relatedness_density', year, region_type, region_code, cluster_code FROM eu_relatedness_density
    UNION ALL
    -- window families: both ends of every window (they read the common panel, sql/families/panel.sql)
    SELECT 'eu_shift_share', unnest([window_start, window_end]), region_type, region_code, cluster_code FROM eu_shift_share
    UNION ALL
    SELECT 'eu_emerging_clusters', unnest([window_start, window_end]), region_type, region_code, cluster_code
    FROM eu_emerging_clusters
),
ranked_per_type AS (
    SELECT year, region_type, count(DISTINCT region_code) AS n_ranked
    FROM cells
    WHERE reason IS NULL AND cluster_type = 'traded' AND lq IS NOT NULL
    GROUP BY ALL
),
phi AS (
    SELECT year, region_type, max(n_regions) AS n_regions
    FROM eu_cluster_relatedness
    GROUP BY ALL
)
SELECT x.family_table, x.year, x.region_type, x.region_code, x.cluster_code,
    coalesce(c.reason, 'not in ' || '{table}') AS reason
FROM row_tables AS x
LEFT JOIN cells AS c USING (year, region_type, region_code, cluster_code)
WHERE c.year IS NULL OR c.reason IS NOT NULL
UNION ALL
SELECT 'eu_diversification', d.year, d.region_type, d.region_code, NULL,
    coalesce(r.reason, 'not in ' || '{table}')
FROM eu_diversification AS d
LEFT JOIN regions AS r USING (year, region_type, region_code)
WHERE NOT coalesce(r.has_ranked_data, false)
UNION ALL
SELECT 'eu_cluster_relatedness', p.year, p.region_type, NULL, NULL,
    'φ over ' || p.n_regions || ' regions, ' || coalesce(k.n_ranked, 0) || ' ranked with an LQ'
FROM phi AS p
LEFT JOIN ranked_per_type AS k USING (year, region_type)
WHERE p.n_regions > coalesce(k.n_ranked, 0)
ORDER BY 1, 2, 3, 4, 5
