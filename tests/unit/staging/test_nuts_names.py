"""nuts_regions: every NUTS code and version of the EU tables has a name, from its own version's list."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.layout import eu_dir
from pipelines.schemas import load_schema
from pipelines.staging import nuts_names
from pipelines.staging.eu import stage_eu
from pipelines.warehouse.eu import eu_indicators

PACKAGED = PROJECT_ROOT / "assets" / "reference" / "eurostat-classifications"


@pytest.fixture(scope="module")
def names() -> pl.DataFrame:
    return nuts_names.read_name_lists(
        PACKAGED / "sbs_dsd_nuts.csv", PACKAGED / "nuts2016_names.csv", PACKAGED / "nuts2021.xlsx", PACKAGED / "nuts2021_latin_names.csv"
    )


def _named(names: pl.DataFrame, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    codes = pl.DataFrame(pairs, schema={"region_code": pl.String, "nuts_version": pl.String}, orient="row")
    out = nuts_names.nuts_regions(codes, names)
    return {(r["region_code"], r["nuts_version"]): (r["region_name"], r["name_source"]) for r in out.iter_rows(named=True)}


def test_each_code_is_named_from_its_own_version(names: pl.DataFrame) -> None:
    got = _named(names, [("UKI1", "2010"), ("DED1", "2006"), ("DED4", "2021"), ("UKI3", "2021"), ("HR04", "2013"), ("DE11", "2021"), ("EL51", "2021")])
    # known facts: Inner London (NUTS 2010), Chemnitz (NUTS 2006 code DED1, NUTS 2010+ code DED4)
    assert got[("UKI1", "2010")] == ("Inner London", "sbs_dsd_nuts")  # the "(NUTS 2010)" suffix dropped
    assert got[("DED1", "2006")] == ("Chemnitz", "sbs_dsd_nuts")
    assert got[("DED4", "2021")] == ("Chemnitz", "nuts2021_latin_names")
    assert got[("UKI3", "2021")][0] == "Inner London — West"
    assert got[("HR04", "2013")] == ("Kontinentalna Hrvatska", "sbs_dsd_nuts")
    assert got[("DE11", "2021")] == ("Stuttgart", "nuts2021_latin_names")
    assert got[("EL51", "2021")][0] == "Anatoliki Makedonia, Thraki"  # Latin script, not Greek


def test_a_discontinued_label_never_names_a_later_version(names: pl.DataFrame) -> None:
    """UKI1 is "Inner London (NUTS 2010)": the name must not carry over to a NUTS 2013/2021 UKI1."""
    got = _named(names, [("UKI1", "2013"), ("UKI1", "2021"), ("XX99", "2021")])
    assert got[("UKI1", "2013")] == (None, None) and got[("UKI1", "2021")] == (None, None)
    assert got[("XX99", "2021")] == (None, None)  # unnamed stays null, never a guess


def test_levels_types_and_extra_regio(names: pl.DataFrame) -> None:
    codes = pl.DataFrame({"region_code": ["DE", "DE1", "DE11", "FRZZ", "CZZ"], "nuts_version": ["2021"] * 5})
    out = nuts_names.nuts_regions(codes, names)
    rows = {r["region_code"]: r for r in out.iter_rows(named=True)}
    assert [rows[c]["level"] for c in ("DE", "DE1", "DE11", "CZZ", "FRZZ")] == [0, 1, 2, 1, 2]
    assert [rows[c]["region_type"] for c in ("DE", "DE1", "DE11")] == ["nuts0", "nuts1", "nuts2"]
    assert rows["FRZZ"]["extra_regio"] and rows["CZZ"]["extra_regio"] and not rows["DE11"]["extra_regio"]
    assert rows["CZZ"]["region_name"] == "Extra-Regio NUTS 1"
    load_schema("nuts_regions").check_types(dict(out.schema))


def test_every_region_of_the_eu_indicators_has_a_name(tmp_path: Path, mirror_dir: Path) -> None:
    """On the mirror: every (region_code, nuts_version) of eu_cluster_indicators is in nuts_regions
    with a name, the older codes (2006/2010/2013) included."""
    settings = Settings(warehouse=tmp_path / "w", mirror=mirror_dir, offline=True)
    stage_eu(settings)
    staged = eu_dir(settings)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE eu_cluster_totals AS SELECT * FROM read_parquet($p)", {"p": str(staged / "eu_cluster_totals.parquet")})
        ind = eu_indicators(con)
    regions = pl.read_parquet(staged / "nuts_regions.parquet")
    keys = ind.filter(pl.col("region_type") != "custom").select("region_code", "nuts_version").unique()
    missing = keys.join(regions.filter(pl.col("region_name").is_not_null()), on=["region_code", "nuts_version"], how="anti")
    assert keys.height > 400 and missing.is_empty(), missing.head(10)
    assert {"2006", "2010", "2013", "2021"} <= set(keys["nuts_version"].to_list())
    assert regions.select("region_code", "nuts_version").is_duplicated().sum() == 0
    # the crosswalk's published codes are named too (ITD1 of NUTS 2006 was recoded to ITH1)
    got = {(r[0], r[1]): r[2] for r in regions.select("region_code", "nuts_version", "region_name").iter_rows()}
    assert got[("DE41", "2006")] == "Nordost" and got[("UKI2", "2010")] == "Outer London"
    assert got[("ITD1", "2006")].startswith("Provincia Autonoma") and got[("ITH1", "2021")].startswith("Provincia Autonoma")
