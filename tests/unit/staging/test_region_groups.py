"""User-defined region groups: YAML loading, aggregation, and refusal of incompatible groups."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.config import ASSETS_DIR
from pipelines.staging.region_groups import (
    RegionGroup,
    RegionGroupError,
    aggregate_region_groups,
    load_region_groups,
)


def ind() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [2021, 2021, 2021, 2021, 2021, 2021, 2021],
            "region_type": ["nuts2", "nuts2", "nuts2", "nuts2", "county", "nuts2", "nuts1"],
            "region_code": ["DK01", "SE22", "DK01", "SE22", "25025", "PL12", "DK0"],
            "classification": ["NACE_R2", "NACE_R2", "NACE_R2", "NACE_R2", "NAICS2017", "NACE_R2", "NACE_R2"],
            "industry_code": ["C10", "C10", "C21", "C21", "311111", "C10", "C10"],
            "industry_level": [2, 2, 2, 2, 6, 2, 2],
            "lfo": ["-"] * 7,
            "emp": [100.0, 50.0, 30.0, None, 5.0, 7.0, 100.0],
            "est": [10, 5, 3, 2, 1, 1, 10],
            "emp_imputed": [False, True, False, False, False, False, False],
            "nuts_version": ["2021", "2021", "2021", "2021", None, "2013", "2021"],
            "source_id": ["eurostat/x"] * 7,
        },
        schema_overrides={"industry_level": pl.Int8},
    )


def test_example_file_loads():
    groups = load_region_groups(ASSETS_DIR / "region_groups.example.yaml")
    med = next(g for g in groups if g.code == "MEDICON")
    assert med.members == ("DK01", "SE22") and med.base_type == "nuts2" and med.nuts_version == "2021"
    assert any(g.base_type == "county" for g in groups)


def test_aggregate_sums_and_marks_custom():
    g = RegionGroup("MEDICON", "Medicon Valley", "nuts2", ("DK01", "SE22"), "2021")
    out = aggregate_region_groups(ind(), [g]).sort("industry_code")
    assert out["region_type"].to_list() == ["custom", "custom"]
    assert out["region_code"].to_list() == ["MEDICON", "MEDICON"]
    assert out["custom_base_type"].to_list() == ["nuts2", "nuts2"]
    assert out["emp"].to_list() == [150.0, None]  # a missing member value: null, not a partial sum
    assert out["est"].to_list() == [15, 5]
    assert out["emp_imputed"].to_list() == [True, False]
    assert out["nuts_version"].to_list() == ["2021", "2021"]
    assert out.schema["industry_level"] == pl.Int8


def test_mixed_units_refused():
    g = RegionGroup("BAD", "County + NUTS", "nuts2", ("DK01", "25025"))
    with pytest.raises(RegionGroupError, match=r"mixes incompatible region units.*'county', 'nuts2'"):
        aggregate_region_groups(ind(), [g])


def test_mixed_levels_refused():
    g = RegionGroup("BAD", "NUTS1 + NUTS2", "nuts2", ("DK0", "SE22"))
    with pytest.raises(RegionGroupError, match="mixes incompatible region units"):
        aggregate_region_groups(ind(), [g])


def test_mixed_nuts_versions_refused():
    g = RegionGroup("BAD", "2013 + 2021", "nuts2", ("PL12", "DK01"))
    with pytest.raises(RegionGroupError, match=r"mixes NUTS versions \(DK01=2021, PL12=2013\)"):
        aggregate_region_groups(ind(), [g])


def test_unknown_region_refused():
    g = RegionGroup("BAD", "Typo", "nuts2", ("DK01", "SE99"))
    with pytest.raises(RegionGroupError, match=r"unknown regions \['SE99'\]"):
        aggregate_region_groups(ind(), [g])


def test_declared_base_type_must_match():
    g = RegionGroup("BAD", "Wrong type", "nuts3", ("DK01", "SE22"))
    with pytest.raises(RegionGroupError, match="declares base_type 'nuts3'"):
        aggregate_region_groups(ind(), [g])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: nope", "'groups' list"),
        ("groups:\n  - {code: A B, base_type: nuts2, members: [DK01]}", "'code' must be"),
        ("groups:\n  - {code: A, base_type: nuts2, members: []}", "non-empty list"),
        ("groups:\n  - {code: A, members: [DK01]}", "'base_type' is required"),
        ("groups:\n  - {code: A, base_type: nuts2, members: [DK01], colour: red}", "unknown keys"),
        ("groups:\n  - {code: A, base_type: nuts2, members: [DK01]}\n  - {code: A, base_type: nuts2, members: [SE22]}", "duplicate group code"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str):
    p = tmp_path / "groups.yaml"
    p.write_text(text)
    with pytest.raises(RegionGroupError, match=message):
        load_region_groups(p)


def test_invalid_yaml_names_the_file_and_line_on_one_line(tmp_path: Path) -> None:
    from pipelines.cli import error_message

    path = tmp_path / "my_groups.yaml"
    path.write_text("groups:\n  - code: A\n    members: [x, y\n  name: b\n")
    with pytest.raises(RegionGroupError) as err:
        load_region_groups(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid region groups YAML: line 4, column 7: expected ',' or ']'"), msg
    assert "\n" not in msg and "<unicode string>" not in msg, msg
    try:  # what the CLI prints: it follows __cause__ to the innermost error (Dagster wraps the step's)
        raise RuntimeError("step failed") from err.value
    except RuntimeError as wrapped:
        assert error_message(wrapped) == msg
