"""NACE → cluster concordance (pipelines/staging/nace_concordance.py): weights by hand, NAICS →
ISIC splits by the notes, known correspondences and methods on the mirror."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.staging import nace_concordance


def test_concordance_weights_by_hand():
    cluster_naics = pl.DataFrame({"naics": ["311111", "311222", "311333"], "cluster_code": ["1", "2", "2"]})
    # 311222 links to two ISIC classes (split 1/2); 311999 is in no cluster
    naics_isic = pl.DataFrame({
        "naics": ["311111", "311222", "311222", "311333", "311999"],
        "isic": ["1010", "1010", "1020", "1020", "1020"],
    })
    # ISIC 1020 is named by two NACE classes (split 1/2)
    nace = pl.DataFrame({
        "nace_class": ["C1011", "C1020", "C1021"],
        "nace_group": ["C101", "C102", "C102"],
        "nace_division": ["C10", "C10", "C10"],
        "section": ["C", "C", "C"],
        "isic": ["1010", "1020", "1020"],
    })
    emp = pl.DataFrame({"naics": ["311111", "311222", "311333", "311999"], "emp": [300.0, 200.0, 100.0, 400.0]})
    c = nace_concordance.build_nace_cluster_concordance(cluster_naics, naics_isic, nace, emp)
    w = {(r["nace_code"], r["cluster_code"]): r for r in c.iter_rows(named=True)}
    # C1011 <- ISIC 1010 <- 311111 (300, cluster 1) + half of 311222 (100, cluster 2)
    assert w[("C1011", "1")]["weight"] == pytest.approx(0.75)
    assert w[("C1011", "2")]["weight"] == pytest.approx(0.25)
    # C102 <- ISIC 1020 <- half 311222 (100) + 311333 (100) + 311999 (400, no cluster)
    assert w[("C102", "2")]["weight"] == pytest.approx(200 / 600)
    assert ("C102", "1") not in w
    assert w[("C102", "2")]["n_naics"] == 2
    # division C10 = all: cluster 1 300, cluster 2 300, none 400
    assert w[("C10", "1")]["weight"] == pytest.approx(0.3)
    assert w[("C10", "2")]["weight"] == pytest.approx(0.3)
    assert w[("C10", "1")]["nace_level"] == 2
    assert set(c["provenance"].to_list()) == {"NAICS2012>ISIC4>NACE; US employment weights"}


def test_naics_split_across_isic_links_by_part_of_notes():
    links = pl.DataFrame({
        "naics": ["325413", "325413", "336360", "336360", "336111", "339113", "339113", "339113"],
        "isic": ["2029", "2100", "1392", "2930", "2910", "2100", "3250", "3290"],
        "note": ["diagnostic reagents", "except diagnostic reagents", "seat covers", "motor vehicle seats", "",
                 "surgical dressings", "except medicated surgical dressings and personal safety devices",
                 "personal safety devices"],
    })
    sh = {(r["naics"], r["isic"]): r for r in nace_concordance.naics_isic_shares(links, note_part_share=0.05).iter_rows(named=True)}
    # "except …" link carries the rest, a named part its small share
    assert sh[("325413", "2029")]["w_isic"] == pytest.approx(0.05)
    assert sh[("325413", "2100")]["w_isic"] == pytest.approx(0.95)
    assert sh[("339113", "3250")]["w_isic"] == pytest.approx(0.90)
    assert sh[("325413", "2100")]["link_method"] == "part-of note"
    # notes without a single "except" link: equal split, the last resort
    assert sh[("336360", "1392")]["w_isic"] == pytest.approx(0.5)
    assert sh[("336360", "1392")]["link_method"] == "equal split"
    assert sh[("336111", "2910")]["w_isic"] == 1.0 and sh[("336111", "2910")]["link_method"] == "whole"
    # never counted whole in each link: every industry's shares add up to 1
    tot = nace_concordance.naics_isic_shares(links).group_by("naics").agg(pl.col("w_isic").sum())
    assert tot["w_isic"].to_list() == pytest.approx([1.0] * tot.height)


def test_naics_isic_notes_parts_capped():
    links = pl.DataFrame({"naics": ["333318"] * 12, "isic": [f"28{i:02d}" for i in range(12)],
                          "note": ["except all the rest"] + [f"part {i}" for i in range(11)]})
    sh = nace_concordance.naics_isic_shares(links, note_part_share=0.05)
    rest = sh.filter(pl.col("note").str.starts_with("except"))["w_isic"].item()
    assert rest == pytest.approx(1 - nace_concordance.NOTE_PARTS_MAX) and sh["w_isic"].sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def mirror_conc(tmp_path_factory, mirror_dir):
    from pipelines.config import Settings

    s = Settings(warehouse=tmp_path_factory.mktemp("conc") / "warehouse", mirror=mirror_dir, offline=True)
    clusters, conc = nace_concordance.mirror_concordance(s)
    return clusters, conc


# Well-known correspondences: NACE code -> (cluster name, minimum weight). The US definitions put
# motor vehicles in Automotive (not the local motor-vehicle services), pharmaceuticals in
# Biopharmaceuticals, air and spacecraft in Aerospace.
KNOWN = {
    "C29": ("Automotive", 0.75),
    "C291": ("Automotive", 0.85),
    "C293": ("Automotive", 0.9),
    "C21": ("Biopharmaceuticals", 0.9),
    "C303": ("Aerospace Vehicles and Defense", 0.9),
    "C30": ("Aerospace Vehicles and Defense", 0.5),
    "C301": ("Water Transportation", 0.5),
    "C11": ("Food Processing and Manufacturing", 0.5),
    "G45": ("Local Motor Vehicle Products and Services", 0.9),
    "J62": ("Business Services", 0.9),
    "H51": ("Transportation and Logistics", 0.8),
    "I55": ("Hospitality and Tourism", 0.5),
}


@pytest.mark.mirror
@pytest.mark.parametrize("nace", sorted(KNOWN))
def test_known_correspondences(mirror_conc, nace):
    clusters, conc = mirror_conc
    name, minimum = KNOWN[nace]
    top = (
        conc.filter(pl.col("nace_code") == nace).join(clusters.select("cluster_code", "cluster_name"), on="cluster_code")
        .sort("weight", descending=True).row(0, named=True)
    )
    assert top["cluster_name"] == name and top["weight"] >= minimum, (nace, top)


@pytest.mark.mirror
def test_concordance_methods_on_mirror(mirror_conc):
    _, conc = mirror_conc
    assert set(conc["method"]) == {"employment split", "part-of note", "equal split"}
    assert conc.group_by("nace_code").agg(pl.col("weight").sum())["weight"].max() <= 1.0 + 1e-9
    # C29: the local motor-vehicle services cluster gets a sliver, not a third (as with equal splits)
    local_mv = conc.filter(pl.col("nace_code") == "C29", pl.col("cluster_code") == "108")["weight"]
    assert local_mv.len() == 0 or local_mv.item() < 0.05


def test_naics_isic_leading_zeros_and_wildcards(mirror_dir):
    ref = mirror_dir / "reference/concordance"
    classes = nace_concordance.parse_isic_classes(ref / "isic_rev4_structure.txt")
    links = nace_concordance.parse_naics_isic(ref / "census_2012_naics_to_isic4.xlsx", classes)
    assert links.filter(pl.col("naics") == "111110")["isic"].to_list() == ["0111"]
    wild = links.filter(pl.col("naics") == "111336")["isic"].to_list()
    assert len(wild) > 1 and all(i.startswith("012") for i in wild)
    assert links["isic"].str.contains(r"^[0-9]{4}$").all()


# --- apportioning ----------------------------------------------------------------------------
