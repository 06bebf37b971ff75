-- The rows the families may publish or count (issue 19): panel rows with data (emp known) that
-- the side's indicator table does not exclude from its rankings (family_excluded, from
-- pipelines.warehouse.families.build_scope: EU extra-regio codes such as FRZZ, overlapping NUTS
-- versions, regions outside the reference, no employment). A region-year is in scope when one of
-- its rows is. Inputs: family_panel, family_excluded. No parameters.
SELECT DISTINCT p.year, p.region_type, p.region_code, p.cluster_code
FROM family_panel AS p
WHERE p.emp IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM family_excluded AS x
      WHERE x.year = p.year AND x.region_type = p.region_type
        AND x.region_code = p.region_code AND x.cluster_code = p.cluster_code
  )
