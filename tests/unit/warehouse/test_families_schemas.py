"""Every family table is documented, and the EU copy of each schema matches the US one."""

from __future__ import annotations

import pytest

from pipelines.schemas import load_schema
from pipelines.warehouse.families import FAMILY_TABLES, build_families
from tests.helpers.families_data import connection, indicator_rows


@pytest.mark.parametrize("table", list(FAMILY_TABLES))
def test_eu_schema_is_the_us_schema(table):
    us, eu = load_schema(table), load_schema(f"eu_{table}")
    assert eu.name == f"eu_{table}"
    assert (eu.fields, eu.primary_key, eu.sort_by, eu.description) == (
        us.fields,
        us.primary_key,
        us.sort_by,
        us.description,
    )


def test_every_family_column_is_documented_and_keys_unique():
    emp = {
        (r, c): [100.0 + i, 120.0, 90.0 + i, 130.0, 150.0, 160.0, 170.0]
        for i, r in enumerate("ABC")
        for c in "12"
    }
    lq = {(r, c): [0.5 + i * 0.4 + int(c) * 0.1] * 7 for i, r in enumerate("ABC") for c in "123"}
    emp.update({(r, "3"): [50.0] * 7 for r in "ABC"})
    rows = indicator_rows(emp, list(range(2000, 2007)), traded={"1", "2"}, lq=lq)
    con = connection("cluster_indicators", rows)
    con.execute("INSERT INTO related_clusters VALUES ('1', '2', 0.5)")
    build_families(con, "us", {"ss_window_years": 2, "em_window_years": 2})
    for table in FAMILY_TABLES:
        schema = load_schema(table)
        cols = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
        schema.check_columns(cols)
        key = ", ".join(schema.primary_key)
        dup = con.execute(
            f"SELECT {key}, count(*) FROM {table} GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        assert dup == [], (table, dup[:3])
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] > 0, table


def test_worked_examples_read_back_the_tables(tmp_path):
    from pipelines.release.family_notes import write_family_notes

    years = list(range(2000, 2012))
    emp = {
        (r, c): [100.0 * (i + 1) + 10 * y * (c == "2") * (r == "B") for y in range(12)]
        for i, r in enumerate("ABCD")
        for c in "123"
    }
    lq = {
        (r, c): [0.5 + 0.04 * y * ((r, c) == ("B", "2")) for y in range(12)]
        for r in "ABCD"
        for c in "123"
    }
    for k in (("A", "1"), ("C", "1"), ("C", "2"), ("D", "1"), ("D", "3")):
        lq[k] = [2.0] * 12
    rows = indicator_rows(emp, years, lq=lq, strong={("A", "1"): [True] * 12})
    con = connection("cluster_indicators", rows)
    con.execute("CREATE TABLE clusters AS SELECT '1' AS cluster_code, 'Alpha' AS cluster_name")
    con.execute("INSERT INTO related_clusters VALUES ('1', '2', 0.5), ('2', '3', 0.4)")
    build_families(con, "us", {"em_min_emp": 100})
    notes = write_family_notes(con, tmp_path)
    assert set(notes) == {
        "notes/shift_share_worked_example.md",
        "notes/emerging_worked_example.md",
        "notes/links_worked_example.md",
    }  # no industry rows here: no diversification example
    text = notes["notes/shift_share_worked_example.md"].read_text()
    full = con.execute(
        "SELECT emp_change FROM shift_share WHERE window_kind = 'full' AND region_code = 'D' AND cluster_code = '1'"
    ).fetchall()[0][0]
    assert f"change **{full:+,.0f}**" in text and "Alpha (1)" in text


def test_release_page_section(tmp_path):
    from pipelines.release.catalog.families_section import release_page_html

    assert release_page_html(tmp_path) == ""  # a release without the families: no section
    emp = {
        (r, c): [100.0 * (i + 1) + 5 * y for y in range(7)]
        for i, r in enumerate("ABC")
        for c in "12"
    }
    lq = {
        (r, c): [0.5 + 0.6 * (r == "A") + 0.05 * y for y in range(7)] for r in "ABC" for c in "12"
    }
    con = connection("cluster_indicators", indicator_rows(emp, list(range(2000, 2007)), lq=lq))
    con.execute("INSERT INTO related_clusters VALUES ('1', '2', 0.5)")
    build_families(con, "us", {"em_window_years": 2, "em_min_emp": 0})
    (tmp_path / "data").mkdir()
    for t in ("emerging_backtest", "relatedness_agreement", "shift_share"):
        con.execute(f"COPY {t} TO '{tmp_path / 'data' / (t + '.parquet')}' (FORMAT parquet)")
    html = release_page_html(tmp_path)
    assert (
        "<svg" in html and "became strong within k years" in html and "Shift-share, state C" in html
    )
