"""README.md of a release folder, for researchers: what the folder holds (every table with its
rows and one-line description from its schema), what it covers and where it is partial, how to
read it (DuckDB, Polars, pandas, R), how to verify and how to cite it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.release.coverage import partial_sources, partial_statement, years_sentence
from pipelines.release.datapackage import table_resources

# Methods the indicators implement; cited in CITATION.cff, the README and the release page.
METHOD_REFERENCES = (
    "Delgado, M., Porter, M. E., & Stern, S. (2016). Defining clusters of related industries. "
    "Journal of Economic Geography, 16(1), 1–38. — the US benchmark cluster definitions, "
    "location quotients and strong clusters (U.S. Cluster Mapping Project, clustermapping.us).",
    "Sölvell, Ö., Ketels, C., & Lindqvist, G. The European Cluster Observatory: EU Cluster Mapping and "
    "Strengthening Clusters in Europe. Center for Strategy and Competitiveness, Stockholm School of "
    "Economics (Europe INNOVA). — the star rating (size, specialisation, focus) of the European Cluster "
    "Observatory, as applied in its 2011 mapping (eco2011_* columns).",
    "Franco Rodríguez, S., Murciego Alonso, A., Salado García, J. P., Sisti, E., & Wilson, J. R. (2021). "
    "European Cluster Panorama 2021. European Commission, European Observatory for Clusters and Industrial "
    "Change. — the Panorama stars (size, specialisation, productivity; panorama_* columns).",
)
README_NAME = "README.md"


def _first_sentence(text: str) -> str:
    text = " ".join(str(text or "").split())
    head, dot, _ = text.partition(". ")
    return head + ("." if dot or not head.endswith(".") else "")


def _example_table(names: set[str]) -> tuple[str, str]:
    """(table, region column filter) for the snippets: the US table when the release has it."""
    if "cluster_indicators" in names:
        return "cluster_indicators", "region_type = 'state' AND region_code = '26'"
    return "eu_cluster_indicators", "region_type = 'nuts2' AND region_code = 'DE11'"


def readme_markdown(package: Mapping[str, Any], repository: str | None = None) -> str:
    """The README.md text of a release (deterministic: built from datapackage.json alone)."""
    version = package["version"]
    tables = table_resources(package)
    names = set(tables)
    table, where = _example_table(names)
    lines = [
        f"# Cluster Observatory — release {version}",
        "",
        f"{package.get('title', '')}. Created {package.get('created', '')}; immutable: every file is listed with "
        "its sha256 in `SHA256SUMS` and described in `datapackage.json` (Frictionless Data Package v2: schema, "
        "units, primary key, sources, parameters, code version). The page `index.html` browses it offline.",
        "",
        "## Tables",
        "",
        "| file | rows | what it holds |",
        "|---|---:|---|",
    ]
    for _, r in sorted(tables.items()):
        desc = _first_sentence(r.get("title") or r.get("description") or "")
        lines.append(f"| `{r['path']}` | {int(r.get('rows') or 0):,} | {desc.replace('|', '/')} |")
    lines += [
        "",
        "Column descriptions and units: `datapackage.json` (`resources[].schema.fields`). CSV copies of the smaller "
        "tables are in `csv/`; the whole release in one zip beside this file.",
        "",
        "## Coverage and caveats",
        "",
    ]
    years = years_sentence(package)
    if years:
        lines += [f"Region types and years present — {years}.", ""]
    caveat = partial_statement(package)
    lines += [caveat if caveat else "No input file is marked as a partial reconstruction.", ""]
    for g in partial_sources(package.get("sources", [])):
        lines += [f"- `{g['sources']}`: {g['note']}"]
    lines += [
        "",
        "European tables: NUTS codes of regions that were split, merged or changed boundaries keep their own "
        "NUTS version (`nuts_version`; `nuts_crosswalk` says why); join names from `nuts_regions` on "
        "(`region_code`, `nuts_version`). Null is not zero: a withheld or missing value is null, flags are in "
        "their own columns. Details: `notes/coverage.md` and the other notes in `notes/`.",
        "",
        "## Reading the data",
        "",
        "Run these in this folder (paths are relative to it). DuckDB:",
        "",
        "```sql",
        f"SELECT * FROM 'data/{table}.parquet' WHERE {where} ORDER BY year LIMIT 10;",
        "```",
        "",
        "Polars:",
        "",
        "```python",
        "import polars as pl",
        f"df = pl.read_parquet('data/{table}.parquet')",
        "print(df.shape)",
        "```",
        "",
        "pandas (with pyarrow):",
        "",
        "```python",
        "import pandas as pd",
        f"df = pd.read_parquet('data/{table}.parquet')",
        "print(df.shape)",
        "```",
        "",
        "R (with the arrow package):",
        "",
        "```r",
        "library(arrow)",
        f"df <- read_parquet('data/{table}.parquet')",
        "print(dim(df))",
        "```",
        "",
    ]
    if "nuts_regions" in names and "eu_cluster_indicators" in names:
        lines += [
            "European indicators with region names (DuckDB):",
            "",
            "```sql",
            "SELECT i.year, i.region_code, n.region_name, i.cluster_code, i.emp, i.lq, i.eco2011_stars",
            "FROM 'data/eu_cluster_indicators.parquet' AS i",
            "JOIN 'data/nuts_regions.parquet' AS n USING (region_code, nuts_version)",
            "WHERE i.region_type = 'nuts2' AND i.region_code = 'DE11' AND i.year = 2014 ORDER BY i.lq DESC LIMIT 5;",
            "```",
            "",
        ]
    lines += [
        "## Verifying",
        "",
        "`sha256sum -c SHA256SUMS` (or `observatory releases verify " + version + "` with the pipeline installed) "
        "re-checks every file.",
        "",
        "## Citing",
        "",
        "Cite the release as in `CITATION.cff` (version " + version + ", fingerprint `" + str(package.get("fingerprint", ""))[:16]
        + "…`), the sources it is built from (listed there and in `datapackage.json`), and the methods:",
        "",
        *(f"- {ref}" for ref in METHOD_REFERENCES),
        "",
    ]
    if repository:
        lines += [f"Code: {repository}" + (f" (commit {package['code']['git_commit']})" if package.get("code", {}).get("git_commit") else ""), ""]
    return "\n".join(lines)
