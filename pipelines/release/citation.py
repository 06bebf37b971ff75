"""How a release is cited and downloaded: schema.org Dataset (dataset.jsonld), CITATION.cff with
the sources it is built from, and the deterministic zip bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.release.coverage import coverage_of, id_ranges, types_years
from pipelines.release.datapackage import (
    LICENSE,
    PACKAGE_NAME,
    SOURCE_HOMEPAGES,
    by_prefix,
    table_resources,
)
from pipelines.release.readme import METHOD_REFERENCES, README_NAME, readme_markdown


def bundle_name(version: str) -> str:
    return f"{PACKAGE_NAME}-{version}.zip"


def _years(package: Mapping[str, Any]) -> list[int]:
    return sorted((package.get("coverage") or {}).get("cbp_years") or package.get("parameters", {}).get("cbp_years") or [])




def repository_url() -> str | None:
    """The code repository: `[project.urls]` Repository (or Source) in pyproject.toml, else the git
    remote `origin`; None when neither is set (the citation then names the commit only)."""
    try:
        urls = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text()).get("project", {}).get("urls", {})
    except (OSError, tomllib.TOMLDecodeError):
        urls = {}
    for key in ("Repository", "repository", "Source", "source"):
        if urls.get(key):
            return str(urls[key])
    try:
        got = subprocess.run(["git", "remote", "get-url", "origin"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    url = got.stdout.strip() if got.returncode == 0 else ""
    if url.startswith("git@github.com:"):
        url = "https://github.com/" + url.removeprefix("git@github.com:")
    return url.removesuffix(".git") if url.startswith("https://") else None


# CITATION.cff references for the methods (METHOD_REFERENCES has the same works as text)
METHOD_CFF: list[dict[str, Any]] = [
    {
        "type": "article",
        "title": "Defining clusters of related industries",
        "authors": [
            {"family-names": "Delgado", "given-names": "Mercedes"},
            {"family-names": "Porter", "given-names": "Michael E."},
            {"family-names": "Stern", "given-names": "Scott"},
        ],
        "journal": "Journal of Economic Geography",
        "year": 2016,
        "volume": 16,
        "issue": "1",
        "start": 1,
        "end": 38,
        "notes": "US benchmark cluster definitions, location quotients and strong clusters (cluster_indicators)",
    },
    {
        "type": "report",
        "title": "The European Cluster Observatory: EU Cluster Mapping and Strengthening Clusters in Europe",
        "authors": [
            {"family-names": "Sölvell", "given-names": "Örjan"},
            {"family-names": "Ketels", "given-names": "Christian"},
            {"family-names": "Lindqvist", "given-names": "Göran"},
        ],
        "institution": {"name": "Center for Strategy and Competitiveness, Stockholm School of Economics"},
        "notes": "Star rating (size, specialisation, focus) of the European Cluster Observatory as applied in its 2011 mapping (eco2011_* columns)",
    },
    {
        "type": "report",
        "title": "European Cluster Panorama 2021",
        "authors": [
            {"family-names": "Franco Rodríguez", "given-names": "Susana"},
            {"family-names": "Murciego Alonso", "given-names": "Asier"},
            {"family-names": "Salado García", "given-names": "Juan Pablo"},
            {"family-names": "Sisti", "given-names": "Eduardo"},
            {"family-names": "Wilson", "given-names": "James Ralph"},
        ],
        "year": 2021,
        "institution": {"name": "European Commission, European Observatory for Clusters and Industrial Change"},
        "notes": "Panorama stars (size, specialisation, productivity; panorama_* columns)",
    },
]


def present_years(package: Mapping[str, Any]) -> list[int]:
    """Years the indicator tables hold (both continents), else the configured CBP years."""
    present = {y for types in (coverage_of(package).get("years_present") or {}).values() for ys in types.values() for y in ys}
    return sorted(present) or _years(package)


def spatial_coverage(package: Mapping[str, Any]) -> list[dict[str, Any]]:
    """schema.org Places for the continents and region types the release holds."""
    present = coverage_of(package).get("years_present") or {}
    names = set(table_resources(package))
    places = []
    if "United States" in present or "cluster_indicators" in names:
        types = types_years(present.get("United States", {})) or "regions"
        places.append({"@type": "Place", "name": "United States", "description": f"US regions (County Business Patterns): {types}"})
    if "Europe" in present or "eu_cluster_indicators" in names:
        types = types_years(present.get("Europe", {})) or "NUTS regions"
        places.append({"@type": "Place", "name": "Europe", "description": f"EU/EFTA NUTS regions (Eurostat SBS): {types}"})
    return places


def cited_sources(package: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(attribution, homepage or URL, source ids) of every source the release is built from,
    one entry per attribution and homepage."""
    out: dict[tuple[str, str], list[str]] = {}
    for s in package.get("sources", []):
        sid = s.get("title", "")
        who = s.get("attribution") or sid
        out.setdefault((who, by_prefix(SOURCE_HOMEPAGES, sid) or s.get("path", "")), []).append(sid)
    return [(who, url, id_ranges(ids)) for (who, url), ids in sorted(out.items())]


def dataset_jsonld(package: Mapping[str, Any]) -> dict[str, Any]:
    years = present_years(package)
    variables, seen = [], set()
    for r in table_resources(package).values():
        for f in r["schema"]["fields"]:
            if f["name"] in seen or not f.get("description"):
                continue
            seen.add(f["name"])
            variables.append({"@type": "PropertyValue", "name": f["name"], "description": f["description"], **({"unitText": f["unit"]} if f.get("unit") else {})})
    dist = [
        {
            "@type": "DataDownload",
            "name": r["name"],
            "contentUrl": r["path"],
            "encodingFormat": r.get("mediatype"),
            "contentSize": f"{r['bytes']} B",
            "sha256": r["hash"].removeprefix("sha256:"),
        }
        for r in package["resources"]
    ]
    dist.append({"@type": "DataDownload", "name": "bundle", "contentUrl": bundle_name(package["version"]), "encodingFormat": "application/zip"})
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": package.get("id"),
        "name": package["title"],
        "description": package.get("description", package["title"]),
        "version": package["version"],
        "dateCreated": package["created"],
        "datePublished": package["created"][:10],
        "license": LICENSE["path"],
        "isAccessibleForFree": True,
        "keywords": package.get("keywords", []),
        "creator": {"@type": "Organization", "name": "Cluster Observatory contributors"},
        "citation": [*METHOD_REFERENCES, *(f"{who}: {ids}. {url}" for who, url, ids in cited_sources(package))],
        **({"temporalCoverage": f"{years[0]}/{years[-1]}"} if years else {}),
        "spatialCoverage": spatial_coverage(package),
        "isBasedOn": [
            {"@type": "CreativeWork", "name": s["title"], "url": s["path"], **({"sha256": s["sha256"]} if s.get("sha256") else {}), **({"creditText": s["attribution"]} if s.get("attribution") else {})}
            for s in package.get("sources", [])
        ],
        "variableMeasured": variables,
        "distribution": dist,
        "softwareVersion": package.get("code", {}).get("git_commit") or package.get("code", {}).get("package_version"),
    }


def citation_cff(package: Mapping[str, Any]) -> str:
    code = package.get("code", {})
    data = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below, and cite the sources it is built from (references).",
        "type": "dataset",
        "title": package["title"],
        "version": package["version"],
        "date-released": package["created"][:10],
        "license": LICENSE["name"],
        "authors": [{"name": "Cluster Observatory contributors"}],
        "abstract": package.get("description", ""),
        "keywords": list(package.get("keywords", [])),
        "identifiers": [{"type": "other", "value": f"sha256:{package['fingerprint']}", "description": "Fingerprint of the inputs and code of this release"}],
        **({"commit": code["git_commit"]} if code.get("git_commit") else {}),
        **({"repository-code": repo} if (repo := repository_url()) else {}),
        "references": [
            *METHOD_CFF,
            {"type": "database", "title": "U.S. Cluster Mapping Project", "authors": [{"name": "Institute for Strategy and Competitiveness, Harvard Business School"}], "url": "https://clustermapping.us/"},
            *(
                {"type": "database", "title": who, "authors": [{"name": who.split(",")[0].split(" (")[0]}], "url": url, "notes": f"inputs: {ids}"}
                for who, url, ids in cited_sources(package)
            ),
        ],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def write_metadata_files(folder: Path, package: Mapping[str, Any]) -> None:
    (folder / "dataset.jsonld").write_text(json.dumps(dataset_jsonld(package), indent=2) + "\n")
    (folder / "CITATION.cff").write_text(citation_cff(package))
    (folder / README_NAME).write_text(readme_markdown(package, repository_url()))


def write_bundle(folder: Path, package: Mapping[str, Any]) -> Path:
    """One zip with the data, CSV copies and metadata (not the catalog page or SHA256SUMS, which
    list the zip itself). Deterministic: sorted entries, fixed timestamps."""
    dest = folder / bundle_name(package["version"])
    prefix = f"{PACKAGE_NAME}-{package['version']}/"
    skip = {dest.name, "SHA256SUMS", "index.html"}
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if not p.is_file() or rel in skip:
                continue
            info = zipfile.ZipInfo(prefix + rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if p.suffix == ".parquet" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(p, "rb") as src, zf.open(info, "w") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    return dest
