-- Diversification of a region per region × year.
-- Inputs: family_industry(year, region_type, region_code, industry_code, cluster_code, emp): the
-- industry pieces behind the clusters (US: 6-digit NAICS; EU: the NACE groups/divisions the EU
-- cluster totals are apportioned from; a code split over clusters is one piece per cluster);
-- family_panel (cluster level, sql/families/panel.sql); family_scope (sql/families/scope.sql): only
-- region-years with data that the indicator table ranks (never EU extra-regio codes, overlapping
-- NUTS versions or regions without data), and only their rows with data. No parameters.
-- Entropies in bits (log2), over pieces with emp > 0 (p = piece share of the region's total):
--   total_entropy     = −Σ p log2 p
--   unrelated_variety = −Σ_c P_c log2 P_c            (P_c = cluster share, from the pieces)
--   related_variety   = Σ_c P_c · H_c,  H_c = −Σ_{i∈c} (p_i/P_c) log2(p_i/P_c)
--   so total_entropy = unrelated_variety + related_variety (Frenken, Van Oort & Verburg 2007).
-- From the cluster rows (all clusters, traded and local; s_c = cluster share of the region's
-- employment, S_c = the reference's share):
--   herfindahl = Σ_c s_c²;  krugman_index = Σ_c |s_c − S_c| (0 = the reference's structure, max 2).
WITH scope_regions AS (
    SELECT DISTINCT year, region_type, region_code FROM family_scope
),
pieces AS (
    SELECT i.year, i.region_type, i.region_code, i.industry_code, i.cluster_code, xsum(i.emp) AS emp
    FROM family_industry AS i
    SEMI JOIN scope_regions AS s USING (year, region_type, region_code)
    WHERE i.emp > 0 AND i.region_type <> 'country'
    GROUP BY ALL
),
-- the region's total of its pieces: an exact DECIMAL sum grouped per region-year and joined back
-- (the same value a window over the 16M pieces of 25 county years gives, without sorting them)
region_pieces AS (
    SELECT year, region_type, region_code, CAST(sum(CAST(emp AS DECIMAL(38, 18))) AS DOUBLE) AS region_piece_emp
    FROM pieces
    GROUP BY ALL
),
shares AS (
    SELECT i.*, i.emp / t.region_piece_emp AS p
    FROM pieces AS i
    JOIN region_pieces AS t USING (year, region_type, region_code)
),
by_cluster AS (
    SELECT
        year, region_type, region_code, cluster_code,
        xsum(p) AS pc,
        -xsum(p * log2(p)) AS h_part,  -- −Σ p log2 p within the cluster
        count(*) AS n_pieces
    FROM shares
    GROUP BY ALL
),
entropy AS (
    SELECT
        year, region_type, region_code,
        xsum(n_pieces) AS n_industries,
        -- H_c = (h_part + P_c log2 P_c) / P_c, so P_c · H_c = h_part + P_c log2 P_c
        xsum(h_part) AS total_entropy,
        -xsum(pc * log2(pc)) AS unrelated_variety,
        xsum(h_part + pc * log2(pc)) AS related_variety
    FROM by_cluster
    GROUP BY ALL
),
cl AS (
    SELECT
        year, region_type, region_code,
        count(*) FILTER (WHERE emp > 0) AS n_clusters,
        xsum(emp) AS region_emp,
        xsum(power(emp / nullif(region_total_emp, 0), 2)) AS herfindahl,
        xsum(abs(emp / nullif(region_total_emp, 0) - ref_emp / nullif(ref_total_emp, 0))) AS krugman_index
    FROM family_scope AS p  -- the panel rows in scope
    WHERE p.region_type <> 'country' AND p.emp IS NOT NULL
    GROUP BY ALL
)
SELECT
    c.region_type,
    c.region_code,
    c.year,
    c.region_emp,
    c.n_clusters,
    e.n_industries,
    e.total_entropy,
    e.unrelated_variety,
    e.related_variety,
    c.herfindahl,
    c.krugman_index
FROM cl AS c
LEFT JOIN entropy AS e USING (year, region_type, region_code)
