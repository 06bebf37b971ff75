"""Links family: reference links (sql/families/cluster_links.sql), co-location relatedness
(sql/families/cluster_relatedness.sql), density (sql/families/relatedness_density.sql), agreement
(sql/families/relatedness_agreement.sql): hand-computed cases, and φ and density checked against the
independent `ecomplexity` package (Harvard Growth Lab; its own tests validate against published
results) on the same presence matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ecomplexity import proximity as ec_proximity
from ecomplexity.density import calc_density

from pipelines.warehouse.families import build_families
from pipelines.warehouse.sql import fetch_frame
from tests.helpers.families_data import connection, indicator_rows

# presence (LQ ≥ 1) of traded clusters 1, 2, 3 in four states
PRESENCE = {"A": (1, 1, 0), "B": (1, 1, 1), "C": (0, 1, 1), "D": (1, 0, 0)}


def _build(
    presence, related=(("1", "2", 0.6), ("2", "3", 0.3)), strong=None, emp=None, years=(2010,)
):
    clusters = [str(i + 1) for i in range(len(next(iter(presence.values()))))]
    lq = {
        (r, c): [2.0 if m[i] else 0.5] * len(years)
        for r, m in presence.items()
        for i, c in enumerate(clusters)
    }
    emps = {k: [(emp or {}).get(k, 100.0)] * len(years) for k in lq}
    rows = indicator_rows(
        emps, list(years), lq=lq, strong={k: [v] * len(years) for k, v in (strong or {}).items()}
    )
    con = connection("cluster_indicators", rows)
    if related:
        con.executemany("INSERT INTO related_clusters VALUES (?, ?, ?)", list(related))
    build_families(con, "us")
    return con


def test_proximity_density_and_agreement_by_hand():
    con = _build(PRESENCE)
    phi = {
        (r["cluster_code"], r["related_cluster_code"]): r
        for r in fetch_frame(con, "SELECT * FROM cluster_relatedness").to_dicts()
    }
    # n_1 = 3, n_2 = 3, n_3 = 2; both(1,2) = 2, both(1,3) = 1, both(2,3) = 2
    assert phi[("1", "2")]["proximity"] == pytest.approx(2 / 3)
    assert phi[("1", "3")]["proximity"] == pytest.approx(1 / 3)
    assert phi[("3", "1")]["proximity"] == pytest.approx(1 / 3)
    assert phi[("2", "3")]["proximity"] == pytest.approx(2 / 3)
    assert (phi[("2", "1")]["reference_related"], phi[("2", "1")]["reference_related_avg"]) == (
        True,
        0.6,
    )
    assert phi[("1", "3")]["reference_related"] is False
    dens = {
        (r["region_code"], r["cluster_code"]): r
        for r in fetch_frame(con, "SELECT * FROM relatedness_density").to_dicts()
    }
    assert dens[("D", "2")]["density"] == pytest.approx((2 / 3) / (2 / 3 + 2 / 3))
    assert dens[("C", "1")]["density"] == pytest.approx(1.0)
    assert dens[("D", "3")]["density"] == pytest.approx((1 / 3) / (1 / 3 + 2 / 3))
    # reference: 2 is related to 1 and 3; D holds 1 only
    assert (dens[("D", "2")]["n_reference_related"], dens[("D", "2")]["reference_density"]) == (
        2,
        0.5,
    )
    # opportunities of D (nothing strong): 2 (0.5), then 3 (1/3), then 1 (D holds neither 2 nor 3: 0)
    assert dens[("D", "1")]["density"] == pytest.approx(0.0)
    assert [dens[("D", c)]["opportunity_rank"] for c in "231"] == [1, 2, 3]
    agr = fetch_frame(con, "SELECT * FROM relatedness_agreement").to_dicts()[0]
    # reference pairs 1–2 and 2–3 have φ 2/3, the unrelated 1–3 has 1/3
    assert (agr["n_pairs"], agr["n_reference_pairs"]) == (3, 2)
    assert agr["auc"] == pytest.approx(1.0) and agr["precision_at_k"] == pytest.approx(1.0)
    assert agr["mean_proximity_reference"] == pytest.approx(2 / 3)


def test_reference_links_and_portfolio_by_hand():
    emp = {("B", "1"): 300.0, ("B", "3"): 50.0}
    con = _build(PRESENCE, strong={("B", "1"): True, ("B", "3"): True, ("B", "2"): True}, emp=emp)
    links = {
        (r["region_code"], r["cluster_code"]): r
        for r in fetch_frame(con, "SELECT * FROM cluster_links").to_dicts()
    }
    b2 = links[("B", "2")]
    assert (b2["n_related"], b2["n_related_strong"], b2["strong_related_clusters"]) == (
        2,
        2,
        "1; 3",
    )
    assert b2["related_emp"] == pytest.approx(350)
    # related LQ: (350 / B's traded 450) / ((300+100+100+100 + 50+100+100+100) / reference traded 1350)
    assert b2["related_lq"] == pytest.approx((350 / 450) / (950 / 1350))
    b1 = links[("B", "1")]
    assert (b1["n_related"], b1["strong_related_clusters"]) == (1, "2")
    assert (
        links[("A", "1")]["n_related_strong"] == 0
        and links[("A", "1")]["strong_related_clusters"] is None
    )


def test_phi_and_density_match_ecomplexity():
    rng = np.random.default_rng(12)
    n_regions, n_clusters = 40, 12
    m = (rng.random((n_regions, n_clusters)) < rng.uniform(0.15, 0.6, n_clusters)).astype(int)
    m[0, :] = 1  # every cluster held somewhere, every region holds one
    m[:, 0] = 1
    presence = {f"R{r:02d}": tuple(m[r]) for r in range(n_regions)}
    con = _build(presence, related=())
    ours = fetch_frame(
        con, "SELECT cluster_code, related_cluster_code, proximity FROM cluster_relatedness"
    )
    clusters = [str(i + 1) for i in range(n_clusters)]
    data = pd.DataFrame(
        [
            {"year": 2010, "loc": r, "prod": c, "val": float(m[i, j])}
            for i, r in enumerate(presence)
            for j, c in enumerate(clusters)
        ]
    )
    cols = {"time": "year", "loc": "loc", "prod": "prod", "val": "val"}
    theirs = ec_proximity(data, cols, presence_test="manual")
    phi = (
        theirs.pivot(index="prod_1", columns="prod_2", values="proximity")
        .loc[clusters, clusters]
        .to_numpy()
    )
    ours_phi = np.eye(n_clusters)
    for r in ours.to_dicts():
        ours_phi[int(r["cluster_code"]) - 1, int(r["related_cluster_code"]) - 1] = r["proximity"]
    np.testing.assert_allclose(ours_phi, phi, atol=1e-12)
    # density without the cluster itself (j ≠ i): ecomplexity's formula on φ with a zero diagonal
    off = phi.copy()
    np.fill_diagonal(off, 0.0)
    expected = calc_density(m.astype(float), off)
    got = fetch_frame(con, "SELECT region_code, cluster_code, density FROM relatedness_density")
    dens = np.zeros_like(expected)
    regions = list(presence)
    for r in got.to_dicts():
        dens[regions.index(r["region_code"]), int(r["cluster_code"]) - 1] = r["density"]
    np.testing.assert_allclose(dens, expected, atol=1e-12)


def test_published_null_strong_is_not_filled_by_the_family_rule():
    """A source with a strong column keeps its nulls (unranked EU rows: extra-regio, outside the
    reference, overlapping NUTS versions); the family rule serves only sources without the column."""
    from pipelines.warehouse.families import build_panel

    years = [2010]
    emp = {(r, "1"): [e] for r, e in (("A", 100.0), ("B", 200.0), ("C", 300.0), ("FRZZ", 5000.0))}
    lq = {(r, "1"): [v] for r, v in (("A", 0.5), ("B", 1.0), ("C", 1.5), ("FRZZ", 9.0))}
    strong = {(r, "1"): [v] for r, v in (("A", False), ("B", False), ("C", True), ("FRZZ", None))}
    df = indicator_rows(emp, years, region_type="nuts2", lq=lq, strong=strong)
    con = connection("eu_cluster_indicators", df.with_columns(definition_vintage=None))
    build_panel(con, "eu")
    got = dict(con.execute("SELECT region_code, strong FROM family_panel").fetchall())
    assert got == {"A": False, "B": False, "C": True, "FRZZ": None}
    # without the column, the rule decides every traded row (FRZZ has the top LQ and size)
    con = connection("eu_cluster_indicators", df.drop("strong").with_columns(definition_vintage=None))
    build_panel(con, "eu")
    got = dict(con.execute("SELECT region_code, strong FROM family_panel").fetchall())
    assert got["FRZZ"] is True and got["A"] is False
