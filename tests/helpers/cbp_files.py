"""Write small CBP files in each upstream layout (for parser tests)."""

from __future__ import annotations

import zipfile
from pathlib import Path

ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same text gives the same bytes (sha256) at any second


def write_zip(path: Path, member: str, text: str) -> Path:
    """A zip at `path` holding `text` as `member`, byte-identical for the same text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(member, date_time=ZIP_TIME), text, compress_type=zipfile.ZIP_DEFLATED)
    return path


# County file, pre-2017 layout with QP1 and establishment size classes.
COUNTY_2011 = """\
"FIPSTATE","FIPSCTY","NAICS","EMPFLAG","EMP_NF","EMP","QP1_NF","QP1","AP_NF","AP","EST","N1_4","N5_9","N10_19","N20_49","N50_99","N100_249","N250_499","N500_999","N1000","N1000_1","N1000_2","N1000_3","N1000_4","CENSTATE","CENCTY"
"01","001","------","","G",10454,"G",75538,"G",325546,816,434,155,115,75,25,10,2,0,0,0,0,0,0,"63","001"
"01","001","336///","","H",1200,"H",10000,"H",50000,3,0,0,1,0,1,0,1,0,0,0,0,0,0,"63","001"
"01","001","336411","A","",0,"D",0,"D",0,2,1,1,0,0,0,0,0,0,0,0,0,0,0,"63","001"
"01","001","336412","","G",900,"G",9000,"G",40000,1,0,0,0,0,0,0,1,0,0,0,0,0,0,"63","001"
"01","003","------","","G",50000,"G",400000,"G",1800000,4500,0,0,0,0,0,0,0,0,0,0,0,0,0,"63","003"
"01","003","336411","C","",0,"D",0,"D",0,5,0,0,0,0,0,0,0,0,0,0,0,0,0,"63","003"
"""

# County file, 2017+ layout: lower-case header, no EMPFLAG, noise flags only.
COUNTY_2018 = """\
fipstate,fipscty,naics,emp_nf,emp,qp1_nf,qp1,ap_nf,ap,est,n<5,n5_9,n10_19,n20_49,n50_99,n100_249,n250_499,n500_999,n1000,n1000_1,n1000_2,n1000_3,n1000_4
"01","001","------","G",11000,"G",80000,"G",340000,830,440,160,115,75,25,10,2,0,0,0,0,0,0
"01","001","336411","J",15,"J",100,"J",500,2,1,1,0,0,0,0,0,0,0,0,0,0,0
"01","001","336412","D",0,"D",0,"D",0,1,0,0,0,0,0,0,1,0,0,0,0,0,0
"06","037","336411","H",25000,"G",700000,"G",3000000,120,10,10,20,30,20,10,10,5,5,0,0,0,0
"""

# MSA file, pre-2017 layout.
MSA_2010 = """\
"MSA","NAICS","EMPFLAG","EMP_NF","EMP","QP1_NF","QP1","AP_NF","AP","EST"
"10180","------","","G",50000,"G",400000,"G",1700000,4000
"10180","336411","B","",0,"D",0,"D",0,3
"""

# US file, 2017+ layout with LFO and employment-size rows (only EMPSZES 001 is all sizes).
US_2019 = """\
naics,lfo,empszes,emp_nf,emp,qp1_nf,qp1,ap_nf,ap,est
"------","-","001","G",128347305,"G",1700000000,"G",7400000000,7959103
"------","-","212","G",5000000,"G",1000000,"G",5000000,900000
"336411","-","001","G",180000,"G",4000000,"G",17000000,300
"336411","C","001","G",170000,"G",3800000,"G",16000000,200
"336411","-","212","S",0,"S",0,"S",0,10
"""


def county_file(rows: list[tuple[str, str, int, int, int]]) -> str:
    """A pre-2017 county file (the COUNTY_2011 layout) from (5-digit county FIPS, NAICS as the
    upstream pads it — "------" for the total, EMP, EST, AP in $1000) rows; every cell reported."""
    lines = [COUNTY_2011.splitlines()[0]]
    for fips, naics, emp, est, ap in rows:
        cells = [f'"{fips[:2]}"', f'"{fips[2:]}"', f'"{naics}"', '""', '"G"', str(emp), '"G"', str(ap // 4), '"G"', str(ap), str(est)]
        lines.append(",".join(cells + ["0"] * 13 + ['"00"', f'"{fips[2:]}"']))
    return "\n".join(lines) + "\n"
