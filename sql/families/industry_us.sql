-- Industry pieces for the diversification family (US side): region × year × 6-digit NAICS ×
-- cluster employment, the same rows and definitions as sql/us/cluster_totals.sql (6-digit, all
-- legal forms, the definitions of the row's own NAICS vintage, apportioning weights), plus the custom regions
-- summed from their members' rows (custom_regions.members of base_type).
WITH base AS (
    SELECT
        i.year, i.region_type, i.region_code, i.industry_code, d.cluster_code,
        i.emp * d.weight AS emp
    FROM industry_employment AS i
    JOIN cluster_naics AS d
        ON d.naics_vintage = naics_vintage(i.classification) AND d.naics = i.industry_code
    WHERE i.classification LIKE 'NAICS%' AND i.lfo = '-' AND i.industry_level = 6
),
members AS (
    SELECT region_code AS group_code, base_type, unnest(members) AS member
    FROM custom_regions
)
SELECT * FROM base
UNION ALL
SELECT b.year, 'custom', m.group_code, b.industry_code, b.cluster_code, xsum(b.emp)
FROM base AS b
JOIN members AS m ON m.base_type = b.region_type AND m.member = b.region_code
GROUP BY ALL
