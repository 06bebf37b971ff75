-- Relatedness density and diversification opportunities per region × year × traded cluster.
-- Inputs: family_panel, family_cluster_relatedness (sql/families/cluster_relatedness.sql, the same side),
-- related_clusters, family_scope (sql/families/scope.sql). Parameters: $rel_min_lq (default 1.0).
-- Rows only for region × cluster cells with data that the indicator table ranks (never EU
-- extra-regio codes, overlapping NUTS versions, cells without data); a cell without data is
-- neither held nor not held, so it counts in no region's density either.
-- density_ri = Σ_{j≠i} φ_ij · M_rj / Σ_{j≠i} φ_ij, M_rj = 1 when the region holds cluster j
-- (LQ ≥ $rel_min_lq): the share of cluster i's relatedness the region already holds. φ comes
-- from the region's own type; custom regions use the matrix of the base type with the most
-- regions that year (proximity_type says which).
-- reference_density: the share of the cluster's reference-related clusters the region holds.
-- opportunity_rank: among the region's traded clusters not strong that year, rank by density
-- (1 = highest); null for strong clusters.
WITH m AS (
    SELECT year, region_type, region_code, cluster_code, emp, lq, strong,
           coalesce(lq >= $rel_min_lq, false) AS present
    FROM family_panel AS f
    SEMI JOIN family_scope AS s USING (year, region_type, region_code, cluster_code)
    WHERE f.traded AND f.region_type <> 'country'
),
matrix_type AS (
    SELECT year, arg_max(region_type, n) AS base_type
    FROM (SELECT year, region_type, count(DISTINCT region_code) AS n FROM m
          WHERE region_type <> 'custom' GROUP BY ALL)
    GROUP BY year
),
-- rid: a region-year's number (its keys in order), so the region × cluster × related-cluster rows
-- below are joined and grouped on integers, not on (year, region_type, region_code) strings
regions AS (
    SELECT *, row_number() OVER (ORDER BY year, region_type, region_code) AS rid FROM (
        SELECT DISTINCT m.year, m.region_type, m.region_code,
            CASE WHEN m.region_type = 'custom' THEN t.base_type ELSE m.region_type END AS proximity_type
        FROM m LEFT JOIN matrix_type AS t USING (year)
    )
),
held AS (
    SELECT g.rid, g.year, g.proximity_type, h.cluster_code, h.present
    FROM m AS h JOIN regions AS g USING (year, region_type, region_code)
),
-- φ once per (year, type, pair), fixed to the 18 decimals of xsum: the per-region sums below are
-- exact DECIMAL sums of these terms (the same sums as xsum over the region rows, in any order)
phi AS (
    SELECT year, region_type AS proximity_type, cluster_code, related_cluster_code,
        CAST(proximity AS DECIMAL(38, 18)) AS w, proximity > 0 AS positive
    FROM family_cluster_relatedness
),
dens AS (
    SELECT
        h.rid, x.cluster_code,
        -- rounded to 1e-9: a float sum's order (not fixed in DuckDB) must not reorder tied densities
        round(CAST(coalesce(sum(x.w) FILTER (WHERE h.present), 0) AS DOUBLE)
            / nullif(CAST(sum(x.w) AS DOUBLE), 0), 9) AS density,
        count(*) FILTER (WHERE h.present AND x.positive) AS n_related_present
    FROM held AS h
    JOIN phi AS x ON x.year = h.year AND x.proximity_type = h.proximity_type
        AND x.related_cluster_code = h.cluster_code
    GROUP BY h.rid, x.cluster_code
),
ref AS (
    SELECT DISTINCT cluster_code, related_cluster_code FROM (
        SELECT cluster_code, related_cluster_code FROM related_clusters
        UNION ALL
        SELECT related_cluster_code, cluster_code FROM related_clusters
    ) WHERE cluster_code <> related_cluster_code
),
ref_dens AS (
    SELECT a.rid, a.cluster_code,
        count(*) AS n_reference_related,
        count(*) FILTER (WHERE b.present) AS n_reference_related_present
    FROM held AS a
    JOIN ref AS r ON r.cluster_code = a.cluster_code
    JOIN held AS b ON b.rid = a.rid AND b.cluster_code = r.related_cluster_code
    GROUP BY a.rid, a.cluster_code
)
SELECT
    a.region_type,
    a.region_code,
    a.cluster_code,
    a.year,
    g.proximity_type,
    a.emp,
    a.lq,
    a.present,
    a.strong,
    d.density,
    d.n_related_present,
    rd.n_reference_related,
    rd.n_reference_related_present,
    rd.n_reference_related_present / nullif(rd.n_reference_related, 0) AS reference_density,
    CASE WHEN NOT coalesce(a.strong, false) AND d.density IS NOT NULL THEN
        rank() OVER (
            PARTITION BY a.year, a.region_type, a.region_code, (NOT coalesce(a.strong, false) AND d.density IS NOT NULL)
            ORDER BY d.density DESC
        )
    END AS opportunity_rank
FROM m AS a
JOIN regions AS g USING (year, region_type, region_code)
LEFT JOIN dens AS d ON d.rid = g.rid AND d.cluster_code = a.cluster_code
LEFT JOIN ref_dens AS rd ON rd.rid = g.rid AND rd.cluster_code = a.cluster_code
