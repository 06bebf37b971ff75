"""The release page's profile sections ("Region profile", "Cluster profile") and their data:
the index, the packed region blocks and the cluster definitions, prepared in SQL by the views'
modules over one connection (data.py); the scripts beside them draw the views."""

from __future__ import annotations

from pathlib import Path

from pipelines.release.catalog.cluster_profile import cluster_section, definitions_html
from pipelines.release.catalog.data import connect, index, json_script
from pipelines.release.catalog.region_profile import industries_html, region_blocks, region_section

HERE = Path(__file__).resolve().parent
SCRIPTS = ("catalog.js", "charts.js", "region_profile.js", "cluster_profile.js")
MISSING = '<p class="muted">The profiles need the cluster_indicators, clusters and regions tables.</p>'


def profiles_html(folder: Path) -> tuple[str, tuple[str, str]]:
    """(the two sections with their data blocks, an example (region type, code) for "How to read")."""
    con = connect(folder)
    if con is None:
        return (
            f'<section id="region-profile"><h2>Region profile</h2>{MISSING}</section>'
            f'<section id="cluster-profile"><h2>Cluster profile</h2>{MISSING}</section>',
            ("state", "06"),
        )
    try:
        idx = index(con)
        blocks = region_blocks(con, folder) + industries_html(con, folder)
        defs = definitions_html(con, folder)
    finally:
        con.close()
    rtype, _, rcode = str(idx["defaultRegion"]).partition("/")
    html = f"""<section id="region-profile"><h2>Region profile</h2>
<p class="muted">A region's clusters (US benchmark cluster definitions on both sides): search a state, metro area,
NUTS region or custom region by name; add a second region to compare. The address bar keeps the view: copy it to share.</p>
{region_section()}</section>
<section id="cluster-profile"><h2>Cluster profile</h2>{cluster_section()}</section>
{json_script("obs-index", idx)}
{blocks}
{defs}"""
    return html, (rtype, rcode)


def profile_scripts() -> str:
    """The views' scripts, the shared data layer (catalog.js) first."""
    return "\n".join((HERE / name).read_text() for name in SCRIPTS)
