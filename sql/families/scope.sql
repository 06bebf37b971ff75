-- The panel rows the families may publish or count (issue 19): rows with data (emp known) whose
-- cell the side's indicator table does not exclude from its rankings (family_excluded, from
-- pipelines.warehouse.families.build_scope: EU extra-regio codes such as FRZZ, overlapping NUTS
-- versions, regions outside the reference, no employment). A region-year is in scope when one of
-- its rows is. A TEMP view of family_panel, read in its place by the families that keep to scope:
-- an anti join with the few excluded cells, not a join of the panel with a copy of its keys
-- (4M rows at 25 county years). A row with a NULL key is never in scope (no key equals it).
-- Inputs: family_panel, family_excluded. No parameters.
SELECT p.*
FROM family_panel AS p
ANTI JOIN family_excluded AS x USING (year, region_type, region_code, cluster_code)
WHERE p.emp IS NOT NULL
  AND p.year IS NOT NULL AND p.region_type IS NOT NULL
  AND p.region_code IS NOT NULL AND p.cluster_code IS NOT NULL
