"""Issue 20: sql/us/cluster_totals.sql counts each industry once, from its all-legal-forms row
(lfo '-'), when a CBP file also breaks it down by legal form of organisation (LFO)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.staging.cbp import parse_cbp_file
from pipelines.warehouse.indicators import build_cluster_tables
from pipelines.warehouse.sql import fetch_frame, register_frame
from tests.helpers.cbp_files import write_zip

# A 2019 US file: each 6-digit industry once for all legal forms ('-') and again per legal form
# (C corporations, S corporations, partnerships); size-class rows other than 001 are dropped.
US_LFO = """\
naics,lfo,empszes,emp_nf,emp,qp1_nf,qp1,ap_nf,ap,est
"------","-","001","G",128347305,"G",1700000000,"G",7400000000,7959103
"336411","-","001","G",180000,"G",4000000,"G",17000000,300
"336411","C","001","G",170000,"G",3800000,"G",16000000,200
"336411","S","001","G",6000,"G",120000,"G",600000,60
"336411","P","001","G",4000,"G",80000,"G",400000,40
"336412","-","001","G",50000,"G",1000000,"G",4000000,120
"336412","C","001","G",45000,"G",900000,"G",3600000,80
"336412","S","001","G",5000,"G",100000,"G",400000,40
"336411","-","212","S",0,"S",0,"S",0,10
"""
CLUSTERS = pl.DataFrame({"cluster_code": ["1", "2"], "traded": [True, True]})
CLUSTER_NAICS = pl.DataFrame({
    "naics_vintage": ["2017", "2017"], "naics": ["336411", "336412"], "cluster_code": ["1", "2"], "weight": [1.0, 1.0],
})


def test_lfo_breakdown_is_not_counted_again(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "cbp19us.zip", "cbp19us.txt", US_LFO)
    ind = parse_cbp_file(
        z, year=2019, source_id="census/cbp/us/2019", sha256="x", location=str(z), work_dir=tmp_path / "work"
    ).collect()
    assert sorted(ind.filter(pl.col("industry_code") == "336411")["lfo"].to_list()) == ["-", "C", "P", "S"]
    with duckdb.connect() as con:
        register_frame(con, "industry_employment", ind)
        register_frame(con, "cluster_naics", CLUSTER_NAICS)
        register_frame(con, "clusters", CLUSTERS)
        build_cluster_tables(con)
        tot = fetch_frame(con, "SELECT cluster_code, emp, est, payroll FROM cluster_totals ORDER BY cluster_code")
        ci = fetch_frame(con, "SELECT cluster_code, region_emp_share FROM cluster_indicators ORDER BY cluster_code")
    # the all-legal-forms rows only: 180,000 and 50,000 jobs (not 360,000 and 100,000)
    assert tot["emp"].to_list() == [180000.0, 50000.0]
    assert tot["est"].to_list() == [300.0, 120.0]
    assert tot["payroll"].to_list() == [17000000.0, 4000000.0]
    assert ci["region_emp_share"].to_list() == pytest.approx([180 / 230, 50 / 230])
