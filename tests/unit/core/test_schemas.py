"""Column types are declared once, in assets/schemas/<table>.yaml: every field is typed, the
schemas written in code and the expectation suites' `schema` maps equal the declared types, and a
release built from the mirror publishes exactly the declared types."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.config import ASSETS_DIR, Settings
from pipelines.release.parquet import write_parquet
from pipelines.schemas import SCHEMA_DIR, SchemaFileError, load_schema, polars_dtype
from pipelines.staging.eurostat import EU_EXTRA_SCHEMA
from pipelines.staging.harmonise import HARMONISED_SCHEMA
from pipelines.staging.quarantine import QUARANTINE_SCHEMA, quarantine_frame
from pipelines.warehouse import database
from tests.helpers.rebuild import build

SCHEMA_NAMES = sorted(p.stem for p in SCHEMA_DIR.glob("*.yaml"))


def dtype_names(schema: pl.Schema) -> dict[str, str]:
    """Column → type name as the validation schema engine prints it (str(dtype))."""
    return {c: str(t) for c, t in schema.items()}


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_field_declares_a_type_that_round_trips(name: str) -> None:
    schema = load_schema(name)
    assert schema.field_names and all("type" in f for f in schema.fields)
    declared = schema.polars_schema()
    assert list(declared) == schema.field_names
    assert dtype_names(declared) == schema.dtype_names()


def test_polars_schema_round_trips_through_parquet(tmp_path: Path) -> None:
    schema = load_schema("custom_regions")  # has a List(String) column
    frame = pl.DataFrame(
        {"region_type": ["custom"], "region_code": ["NE"], "region_name": ["New England"], "base_type": ["state"],
         "nuts_version": [None], "members": [["09", "25"]]},
        schema=schema.polars_schema(),
    )  # fmt: skip
    frame.write_parquet(tmp_path / "t.parquet")
    assert pl.read_parquet_schema(tmp_path / "t.parquet") == schema.polars_schema()
    picked = schema.polars_schema(
        ["members", "region_code"]
    )  # the columns asked for, in that order
    assert list(picked.items()) == [("members", pl.List(pl.String)), ("region_code", pl.String)]


def test_type_names_are_polars_names() -> None:
    assert polars_dtype("Int32") == pl.Int32 and polars_dtype("List(List(Date))") == pl.List(
        pl.List(pl.Date)
    )
    for bad in ("Integer", "int", "List(Nope)", "List()"):
        with pytest.raises(ValueError, match="unknown column type"):
            polars_dtype(bad)


def _write(folder: Path, fields: str) -> Path:
    folder.mkdir()
    (folder / "t.yaml").write_text(f"name: t\nprimaryKey: [a]\nfields:\n{fields}")
    return folder


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{name: b, description: no type}", "field 'b' has no type"),
        ("{name: b, type: Integer}", "field 'b': unknown column type 'Integer'"),
        ("{name: b, type: Utf8}", "field 'b': unknown column type 'Utf8'"),
    ],
)
def test_a_missing_or_unknown_type_names_the_file(tmp_path: Path, field: str, message: str) -> None:
    folder = _write(tmp_path / "s", f"  - {{name: a, type: String}}\n  - {field}\n")
    with pytest.raises(SchemaFileError, match=message) as err:
        load_schema("t", folder)
    assert str(folder / "t.yaml") in str(err.value)


def test_selecting_an_undeclared_column_names_the_file(tmp_path: Path) -> None:
    schema = load_schema("t", _write(tmp_path / "s", "  - {name: a, type: Int64}\n"))
    with pytest.raises(SchemaFileError, match=r"t\.yaml: columns not declared: \['b'\]"):
        schema.polars_schema(["a", "b"])


def test_types_are_declared_once() -> None:
    """Staging, validation and the release read the types from assets/schemas: the staged schemas
    are built from it, and no expectation suite pins a map of its own."""
    assert load_schema("industry_employment").polars_schema() == HARMONISED_SCHEMA
    assert load_schema("cbp_quarantine").polars_schema() == QUARANTINE_SCHEMA
    eu = load_schema("eu_industry_employment").dtype_names()
    assert {c: str(t) for c, t in EU_EXTRA_SCHEMA.items()}.items() <= eu.items()
    checked = []
    for path in sorted((ASSETS_DIR / "expectations").glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        for e in suite["expectations"]:
            if e.get("engine") == "schema":
                checked.append(path.name)
                assert "schema" not in (e.get("kwargs") or {}), f"{path.name}/{e['id']}: types belong in assets/schemas/{suite['table']}.yaml"
                load_schema(suite["table"])  # the table the engine reads has a schema file
    assert {"harmonised.yaml", "cluster_indicators.yaml"} <= set(checked)


def test_release_writer_refuses_drifted_types() -> None:
    schema = load_schema("clusters")
    declared = schema.polars_schema()
    schema.check_types(declared)  # the declared types pass
    drifted = {**declared, "traded": pl.String()}
    with pytest.raises(SchemaFileError, match=r"clusters.*traded.*String.*Boolean"):
        schema.check_types(drifted)


@pytest.mark.mirror
def test_release_writer_publishes_the_declared_types(tmp_path: Path, mirror_dir: Path) -> None:
    """Every table a release publishes, built from the mirror (one CBP year, EU, region groups: the
    rebuild test's build) and written by the release's Parquet writer, has exactly the declared
    column types. (publish_us_release itself adds minutes of validation and packaging, not types.)
    Column order is not compared here."""
    settings = Settings(
        warehouse=tmp_path / "wh", mirror=mirror_dir, offline=True, cbp_years=(2011,),
        region_groups=ASSETS_DIR / "region_groups.yaml",
    )  # fmt: skip
    build(settings)
    differ = {}
    with database.connect(settings, read_only=True) as con:
        for name in SCHEMA_NAMES:
            schema = load_schema(name)
            # cbp_quarantine is released from the staged quarantine files, every other table from DuckDB
            src = quarantine_frame(settings) if name == "cbp_quarantine" else con.table(name)
            out = tmp_path / f"{name}.parquet"
            write_parquet(src, out, list(schema.sort_by), list(schema.primary_key))
            declared, observed = schema.dtype_names(), dtype_names(pl.read_parquet_schema(out))
            if declared != observed:
                cols = sorted(declared.keys() | observed.keys())
                differ[name] = {
                    c: (declared.get(c), observed.get(c))
                    for c in cols
                    if declared.get(c) != observed.get(c)
                }
    assert not differ, f"published types differ from assets/schemas (declared, published): {differ}"
