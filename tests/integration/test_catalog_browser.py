"""The static catalog in real headless Chromium: loads from file:// with no console errors, no
network, and the region profile renders (and redraws when the region changes).

Skips only when no Chromium binary is installed (`.ci/run` installs Debian's chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.browser import BROWSER, Page, open_page
from tests.helpers.release_samples import publish_sample, sample_tables

pytestmark = pytest.mark.skipif(BROWSER is None, reason="Chromium not installed (apt-get install chromium; .ci/run does this)")


def test_catalog_renders_charts_without_console_errors(tmp_path: Path, browser: Page) -> None:
    rdir = tmp_path / "releases"
    report = tmp_path / "report.html"
    report.write_text("<html><body>validation ok</body></html>\n")
    r1 = publish_sample(rdir, extra_files={"validation/report.html": report}, csv=["clusters"])
    r2 = publish_sample(rdir, tables=sample_tables(bump=3.0), tag="b", extra_files={"validation/report.html": report})
    index = rdir / "index.html"
    html = index.read_text()
    # Everything is in the page: no external scripts, styles or images.
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html and "https://cdn" not in html
    for needle in (r1.version, r2.version, "Biopharmaceuticals", "persons", "read_parquet", "pl.scan_parquet", "pd.read_parquet",
                   "open_dataset", "validation/report.html", "SHA256SUMS", "cluster-observatory-" + r2.version + ".zip"):  # fmt: skip
        assert needle in html, needle

    open_page(browser, index)
    assert browser.errors() == []
    # The region profile opens on the largest US region and lists its traded clusters with names.
    assert browser.eval("document.body.getAttribute('data-region-profile')").startswith("state/")
    rows = browser.eval("[...document.querySelectorAll('#rp-body .profile table:first-of-type tbody tr')].map(r => r.cells[0].textContent)")
    assert len(rows) == 4 and "Biopharmaceuticals" in rows  # the traded clusters of the sample
    assert browser.eval("document.querySelectorAll('#rp-body circle.bubble').length") == 4
    # Choosing another region redraws the profile for it (names come from the regions table).
    browser.eval(
        "(() => { const s = document.getElementById('rp-search'); s.value = 'Texas';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    browser.drain(0.5)
    assert browser.eval("document.querySelector('#rp-body h3').textContent") == "Texas (US state 48)"
    # The bubbles have a size (rendered, not empty SVG).
    assert browser.eval("document.querySelector('#rp-body circle.bubble').getBBox().width") > 0
    # Only local files were requested (no network at view time).
    assert all(u.startswith(("file:", "data:", "about:")) for u in browser.requests()), browser.requests()

    # The per-release page works the same way, from inside the immutable release folder.
    open_page(browser, rdir / r1.version / "index.html")
    assert browser.errors() == []
    assert browser.eval("document.querySelectorAll('#rp-body circle.bubble').length") == 4
    # ...and the error capture itself works: an uncaught exception is seen.
    browser.eval("setTimeout(() => { throw new Error('boom'); }, 0); 1")
    browser.drain(0.3)
    assert any("boom" in e for e in browser.errors())
