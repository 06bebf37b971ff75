"""`--years` is validated: a malformed, backwards or out-of-range value is one line that states
the valid form and range, before anything runs."""

from __future__ import annotations

import pytest

from pipelines import cli
from pipelines.config import FIRST_CBP_YEAR, last_cbp_year, parse_years


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("00-11", "not a year or a range"),
        ("2011-2000", "runs backwards"),
        ("abc", "not a year or a range"),
        (f"{FIRST_CBP_YEAR - 1}-2000", "outside the available years"),
        (f"2000-{last_cbp_year() + 1}", "outside the available years"),
        (",", "no year given"),
    ],
)
def test_bad_years_are_one_clear_line(spec: str, why: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OBSERVATORY_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    for command in ("run", "refresh"):
        assert cli.main([command, "--years", spec]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert why in err and "YYYY-YYYY" in err and f"{FIRST_CBP_YEAR}–{last_cbp_year()}" in err
    assert not (tmp_path / "wh" / "releases").exists()  # nothing ran


def test_good_years() -> None:
    assert parse_years("2000-2002, 2005") == [2000, 2001, 2002, 2005]
    assert parse_years(f"{FIRST_CBP_YEAR}") == [FIRST_CBP_YEAR]
    assert parse_years(f"{last_cbp_year()}") == [last_cbp_year()]
