"""The release page's indicator families section names regions and clusters (issue 21: no bare codes)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.release.catalog.families_section import release_page_html


def test_shift_share_table_names_the_region_and_its_clusters(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pl.DataFrame({
        "region_type": ["state"] * 3, "region_code": ["26", "26", "06"], "cluster_code": ["4", "5", "4"],
        "cluster_type": ["traded"] * 3, "window_kind": ["full"] * 3, "window_start": [2000] * 3, "window_end": [2011] * 3,
        "emp_start": [280147.0, 9000.0, 100.0], "emp_change": [-153457.0, 10.0, 1.0], "national_effect": [1.0] * 3,
        "mix_effect": [2.0] * 3, "competitive_effect": [3.0] * 3, "vintage_break": [True] * 3,
    }).write_parquet(data / "shift_share.parquet")  # fmt: skip
    html = release_page_html(tmp_path)
    assert "Shift-share, state 26 (largest)" in html and "<td>4</td>" in html  # codes while the release has no names
    pl.DataFrame({"cluster_code": ["4", "5"], "cluster_name": ["Automotive", "Biopharmaceuticals"]}).write_parquet(data / "clusters.parquet")
    pl.DataFrame({"region_type": ["state", "state"], "region_code": ["26", "06"], "region_name": ["Michigan", "California"]}).write_parquet(data / "regions.parquet")
    html = release_page_html(tmp_path)
    assert "Shift-share, state Michigan (largest), 2000→2011" in html
    assert "<td>Automotive</td><td class='num'>-153,457</td>" in html and "<td>Biopharmaceuticals</td>" in html
