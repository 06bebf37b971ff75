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
    FROM family_scope AS f  -- the panel rows in scope
    WHERE f.traded AND f.region_type <> 'country'
),
matrix_type AS (
    SELECT year, arg_max(region_type, n) AS base_type
    FROM (SELECT year, region_type, count(DISTINCT region_code) AS n FROM m
          WHERE region_type <> 'custom' GROUP BY ALL)
    GROUP BY year
),
-- Integer keys for the region × cluster × related-cluster rows (numbers of the keys in order): rid
-- of a region-year, pid of the (year, proximity type) whose φ it uses, cid of a cluster; the
-- codes are joined back after the sums
regions AS (
    SELECT *,
        row_number() OVER (ORDER BY year, region_type, region_code) AS rid,
        dense_rank() OVER (ORDER BY year, proximity_type) AS pid
    FROM (
        SELECT DISTINCT m.year, m.region_type, m.region_code,
            CASE WHEN m.region_type = 'custom' THEN t.base_type ELSE m.region_type END AS proximity_type
        FROM m LEFT JOIN matrix_type AS t USING (year)
    )
),
codes AS (
    SELECT cluster_code, row_number() OVER (ORDER BY cluster_code) AS cid FROM (
        SELECT cluster_code FROM m
        UNION SELECT cluster_code FROM family_cluster_relatedness
        UNION SELECT related_cluster_code FROM family_cluster_relatedness
        UNION SELECT cluster_code FROM related_clusters
        UNION SELECT related_cluster_code FROM related_clusters
    )
),
held AS (
    SELECT g.rid, g.pid, c.cid, h.present
    FROM m AS h
    JOIN regions AS g USING (year, region_type, region_code)
    JOIN codes AS c USING (cluster_code)
),
-- φ once per (year, type, pair), fixed to the 18 decimals of xsum: the per-region sums below are
-- exact DECIMAL sums of these terms (the same sums as xsum over the region rows, in any order)
phi AS (
    SELECT p.pid, c.cid, r.cid AS related_cid,
        CAST(x.proximity AS DECIMAL(38, 18)) AS w, x.proximity > 0 AS positive
    FROM family_cluster_relatedness AS x
    JOIN (SELECT DISTINCT pid, year, proximity_type FROM regions) AS p
        ON p.year = x.year AND p.proximity_type = x.region_type
    JOIN codes AS c ON c.cluster_code = x.cluster_code
    JOIN codes AS r ON r.cluster_code = x.related_cluster_code
),
-- density_ri's sums without a row per region × cluster × related cluster: the numerator runs over
-- the region's held cells only (LQ ≥ $rel_min_lq); the denominator, over the region's cells with
-- data, is the type's whole φ row sum, minus the cells the region lacks, plus repeated cells
-- (a cell in the panel twice counts twice, as a join over the cells would). All exact DECIMALs.
pos AS (
    SELECT h.rid, x.cid, sum(x.w) AS w_present,
        count(*) FILTER (WHERE x.positive) AS n_related_present
    FROM held AS h
    JOIN phi AS x ON x.pid = h.pid AND x.related_cid = h.cid
    WHERE h.present
    GROUP BY h.rid, x.cid
),
cells AS (
    SELECT g.rid, g.pid, u.cid, false AS extra
    FROM regions AS g
    JOIN (SELECT DISTINCT pid, related_cid AS cid FROM phi) AS u USING (pid)
    WHERE NOT EXISTS (SELECT 1 FROM held AS h WHERE h.rid = g.rid AND h.cid = u.cid)
    UNION ALL
    SELECT rid, pid, cid, true AS extra
    FROM (SELECT rid, pid, cid, row_number() OVER (PARTITION BY rid, cid) AS k FROM held)
    WHERE k > 1
),
adj AS (
    SELECT c.rid, x.cid,
        coalesce(sum(x.w) FILTER (WHERE c.extra), 0)
            - coalesce(sum(x.w) FILTER (WHERE NOT c.extra), 0) AS w_adj,
        count(*) FILTER (WHERE c.extra) - count(*) FILTER (WHERE NOT c.extra) AS n_adj
    FROM cells AS c
    JOIN phi AS x ON x.pid = c.pid AND x.related_cid = c.cid
    GROUP BY c.rid, x.cid
),
tot AS (
    SELECT pid, cid, coalesce(sum(w), 0) AS w_all, count(*) AS n_all FROM phi GROUP BY pid, cid
),
dens_k AS (
    SELECT
        g.rid, t.cid,
        -- rounded to 1e-9: a float sum's order (not fixed in DuckDB) must not reorder tied densities
        round(CAST(coalesce(p.w_present, 0) AS DOUBLE)
            / nullif(CAST(t.w_all + coalesce(a.w_adj, 0) AS DOUBLE), 0), 9) AS density,
        coalesce(p.n_related_present, 0) AS n_related_present
    FROM regions AS g
    JOIN tot AS t USING (pid)
    LEFT JOIN adj AS a ON a.rid = g.rid AND a.cid = t.cid
    LEFT JOIN pos AS p ON p.rid = g.rid AND p.cid = t.cid
    WHERE t.n_all + coalesce(a.n_adj, 0) > 0
),
ref AS (
    SELECT DISTINCT a.cid, b.cid AS related_cid FROM (
        SELECT cluster_code, related_cluster_code FROM related_clusters
        UNION ALL
        SELECT related_cluster_code, cluster_code FROM related_clusters
    ) AS r
    JOIN codes AS a ON a.cluster_code = r.cluster_code
    JOIN codes AS b ON b.cluster_code = r.related_cluster_code
    WHERE r.cluster_code <> r.related_cluster_code
),
-- each region cell with its reference-related clusters, materialised first: joined the other way
-- round (cell × cell of the region, then the pairs) the planner built all R·C² region rows
ref_candidates AS MATERIALIZED (
    SELECT a.rid, a.cid, r.related_cid FROM held AS a JOIN ref AS r ON r.cid = a.cid
),
ref_dens_k AS (
    SELECT a.rid, a.cid,
        count(*) AS n_reference_related,
        count(*) FILTER (WHERE b.present) AS n_reference_related_present
    FROM ref_candidates AS a
    JOIN held AS b ON b.rid = a.rid AND b.cid = a.related_cid
    GROUP BY a.rid, a.cid
),
dens AS (SELECT d.*, c.cluster_code FROM dens_k AS d JOIN codes AS c USING (cid)),
ref_dens AS (SELECT d.*, c.cluster_code FROM ref_dens_k AS d JOIN codes AS c USING (cid))
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
