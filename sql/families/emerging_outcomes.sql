-- Emerging clusters, outcomes (issue 19): for each cohort row of family_emerging_features (traded,
-- sound window, not strong at the flag year) the first year AFTER the flag year in which the
-- region × cluster is strong, and the last year the panel observes. Read only by the fit of the
-- emerging score (pipelines/warehouse/emerging_score.py), which uses an outcome only when it is
-- observed by the year the fitted weights are applied to — never to build a flag of its own year.
-- Inputs: family_emerging_features, family_panel.
WITH first_strong AS (
    SELECT f.region_type, f.region_code, f.cluster_code, f.window_end, min(p.year) AS strong_year
    FROM family_emerging_features AS f
    JOIN family_panel AS p
        ON p.region_type = f.region_type AND p.region_code = f.region_code
        AND p.cluster_code = f.cluster_code AND p.year > f.window_end AND p.strong
    WHERE f.in_cohort
    GROUP BY ALL
)
SELECT
    f.region_type, f.region_code, f.cluster_code, f.window_end AS flag_year,
    f.pct_density, f.pct_lq_trend, f.pct_size, f.pct_growth, f.pct_lq,
    s.strong_year
FROM family_emerging_features AS f
LEFT JOIN first_strong AS s USING (region_type, region_code, cluster_code, window_end)
WHERE f.in_cohort
-- a fixed row order: the fit's float sums, and so the published scores, repeat exactly on a rebuild
ORDER BY f.region_type, f.region_code, f.cluster_code, f.window_end
