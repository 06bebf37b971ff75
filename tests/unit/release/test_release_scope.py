"""A release narrower than the latest (fewer CBP years, geographies or sources) is not published
unless asked for (issue 20: a two-year refresh once replaced a twelve-year latest silently)."""

from __future__ import annotations

import pytest

from pipelines.layout import read_latest
from pipelines.release.publish import publish_release
from pipelines.release.scope import NarrowerReleaseError, dropped_scope, year_ranges
from pipelines.release.versions import list_versions
from tests.helpers.release_samples import DAY, publish_sample, sample_tables, sources

FULL = {"cbp_years": list(range(2000, 2012)), "cbp_geographies": ["state", "county"], "eurostat": True}


def _cov(**kw) -> dict:
    return {"coverage": {**FULL, **kw}}


def test_narrower_release_is_refused_naming_what_it_drops(tmp_path) -> None:
    rdir = tmp_path / "releases"
    r1 = publish_sample(rdir, sample_tables(seed=1), metadata=_cov())
    with pytest.raises(NarrowerReleaseError) as err:
        publish_sample(rdir, sample_tables(seed=2), metadata=_cov(cbp_years=[2010, 2011]))
    msg = str(err.value)
    assert msg.startswith(f"not published: this release covers less than the latest release {r1.version} ")
    assert "(it would drop CBP years 2000–2009)" in msg and "--allow-narrower" in msg and "\n" not in msg
    assert list_versions(rdir) == [r1.version] and read_latest(rdir)["version"] == r1.version
    assert not list(rdir.glob(".tmp-*"))  # nothing lost, nothing half-written

    with pytest.raises(NarrowerReleaseError, match=r"drop CBP geographies county; Eurostat \(every EU table\)\)"):
        publish_sample(rdir, sample_tables(seed=2), metadata=_cov(cbp_geographies=["state"], eurostat=False))

    # Asked for explicitly: published and latest.
    r2 = publish_sample(rdir, sample_tables(seed=2), metadata=_cov(cbp_years=[2010, 2011]), allow_narrower=True)
    assert read_latest(rdir)["version"] == r2.version
    # Back to the full scope (wider than the latest) needs no flag.
    r3 = publish_sample(rdir, sample_tables(seed=3), metadata=_cov(cbp_years=list(range(1998, 2012))))
    assert read_latest(rdir)["version"] == r3.version


def test_dropped_statistical_source_is_named(tmp_path) -> None:
    rdir = tmp_path / "releases"
    eu = {"source_id": "eurostat/sbs_r_nuts06_r2", "url": "https://ec.europa.eu/x.tsv.gz", "sha256": "e" * 64,
          "bytes": 1, "retrieved_at": "2026-03-14T10:00:00Z", "attribution": "Eurostat"}  # fmt: skip
    publish_release(sample_tables(seed=1), releases_dir=rdir, sources=[*sources(), eu], metadata=_cov(), today=DAY)
    with pytest.raises(NarrowerReleaseError, match=r"drop sources eurostat/sbs_r_nuts06_r2\)"):
        publish_release(sample_tables(seed=2), releases_dir=rdir, sources=sources(), metadata=_cov(), today=DAY)


def test_what_counts_as_dropped() -> None:
    latest = {"coverage": FULL, "sources": [{"title": "census/cbp/state/2000"}, {"title": "clustermapping/regions"}]}
    assert dropped_scope(latest, FULL, []) == []  # CBP files follow the years; reference files follow the code
    assert dropped_scope(latest, {**FULL, "cbp_years": [*range(2000, 2005), 2011]}, []) == ["CBP years 2005–2010"]
    assert dropped_scope({}, {"cbp_years": [2011]}, []) == []  # a latest without coverage: nothing to compare
    assert year_ranges([2000, 2001, 2002, 2005]) == "2000–2002, 2005"
