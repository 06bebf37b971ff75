"""Worked examples in notes/ are part of a release: a rebuild must write the same text, also where
the numbers they list are tied."""

from __future__ import annotations

import duckdb

from pipelines.release.family_notes import links_example


def _tables(related_in_order: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(
        "CREATE TABLE relatedness_density (year INTEGER, region_type VARCHAR, region_code VARCHAR, cluster_code VARCHAR, "
        "n_reference_related INTEGER, opportunity_rank INTEGER, lq DOUBLE, present BOOLEAN, n_related_present INTEGER, "
        "density DOUBLE, n_reference_related_present INTEGER, reference_density DOUBLE)"
    )
    con.execute("INSERT INTO relatedness_density VALUES (2011, 'state', '06', '1', 3, 1, 0.5, false, 2, 0.4, 1, 0.3)")
    con.execute(
        "INSERT INTO relatedness_density SELECT 2011, 'state', '06', c, 1, NULL, 1.2, true, 0, 0, 0, 0 "
        "FROM unnest($c) AS t(c)", {"c": related_in_order}
    )
    con.execute("CREATE TABLE cluster_relatedness (year INTEGER, region_type VARCHAR, cluster_code VARCHAR, related_cluster_code VARCHAR, proximity DOUBLE)")
    # every related cluster equally close: the order of the listed rows is a tie
    con.execute(
        "INSERT INTO cluster_relatedness SELECT 2011, 'state', '1', c, 0.667 FROM unnest($c) AS t(c)", {"c": related_in_order}
    )
    con.execute("CREATE TABLE cluster_links (year INTEGER, region_type VARCHAR, region_code VARCHAR, strong BOOLEAN, strong_related_clusters VARCHAR[])")
    con.execute("CREATE TABLE relatedness_agreement (year INTEGER, region_type VARCHAR, auc DOUBLE, precision_at_k DOUBLE)")
    con.execute("CREATE TABLE clusters (cluster_code VARCHAR, cluster_name VARCHAR)")
    return con


def test_tied_proximities_are_listed_in_a_fixed_order() -> None:
    codes = [str(c) for c in range(10, 22)]  # more than the 8 rows the note lists
    forward = links_example(_tables(codes))
    backward = links_example(_tables(codes[::-1]))
    assert forward is not None and forward == backward
    assert "| cluster 10 | 0.667 | yes |" in forward and "cluster 21" not in forward
