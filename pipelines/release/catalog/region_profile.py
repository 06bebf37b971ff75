"""The "Region profile" view: per region one JSON block with its cluster series (employment, LQ,
wage against the national / European level, strong, stars, rank among peers), traded and local
employment and coverage per year, its strong clusters' links, its diversification opportunities,
the shift-share of its traded clusters and its emerging flags. Prepared in SQL (data.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.release.catalog.data import (
    INDUSTRY_PREFIX,
    REGION_PREFIX,
    blocks_html,
    both_sides,
    has,
    keyed_json,
    table,
)

KEY = "region_type || '/' || region_code"


def _series(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per region: first year and, per cluster, arrays over the region's years (null where absent):
    employment, LQ, wage ratio, strong, stars, rank by LQ among the type's ranked regions and (g)
    the constant-definition employment."""
    return keyed_json(
        con,
        f"""WITH span AS (SELECT side, region_type, region_code, min(year) AS y0, max(year) AS y1 FROM cells GROUP BY ALL),
           grid AS (SELECT k.*, s.y0, unnest(range(s.y0, s.y1 + 1)) AS year
                    FROM (SELECT DISTINCT side, region_type, region_code, cluster_code FROM cells WHERE cluster_type = 'traded') k JOIN span s USING (side, region_type, region_code)),
           ser AS (SELECT g.side, g.region_type, g.region_code, g.cluster_code, any_value(g.y0) AS y0,
                          list(round(c.emp)::BIGINT ORDER BY g.year) AS e, list(round(c.lq, 2) ORDER BY g.year) AS q,
                          list(round(c.wage_ratio, 2) ORDER BY g.year) AS w, list(c.strong::INT ORDER BY g.year) AS s,
                          CASE WHEN count(c.stars) > 0 THEN list(c.stars ORDER BY g.year) END AS t, list(c.lq_rank ORDER BY g.year) AS r,
                          CASE WHEN count(k.emp) > 0 THEN list(round(k.emp)::BIGINT ORDER BY g.year) END AS g
                   FROM grid g LEFT JOIN cells c USING (side, region_type, region_code, cluster_code, year)
                   LEFT JOIN constant k USING (side, region_type, region_code, cluster_code, year) GROUP BY ALL)
           SELECT {KEY}, {{y0: any_value(y0), c: list(cluster_code ORDER BY cluster_code), e: list(e ORDER BY cluster_code),
                   q: list(q ORDER BY cluster_code), w: list(w ORDER BY cluster_code), s: list(s ORDER BY cluster_code),
                   t: CASE WHEN count(t) > 0 THEN list(t ORDER BY cluster_code) END,
                   g: CASE WHEN count(g) > 0 THEN list(g ORDER BY cluster_code) END, r: list(r ORDER BY cluster_code)}}
           FROM ser GROUP BY side, region_type, region_code""",
    )


def _summary(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, str]:
    """Per region and year: traded and local employment, and the 6-digit coverage (US, from
    region_indicators; null where the release does not measure it)."""
    cov = (
        f"SELECT region_type, region_code, year, coverage FROM {table(folder, 'region_indicators')}"
        if has(folder, "region_indicators") else
        "SELECT NULL::VARCHAR AS region_type, NULL::VARCHAR AS region_code, NULL::INTEGER AS year, NULL::DOUBLE AS coverage"
    )  # fmt: skip
    return keyed_json(
        con,
        f"""WITH y AS (SELECT side, region_type, region_code, year,
                              round(sum(emp) FILTER (WHERE cluster_type = 'traded'))::BIGINT AS traded,
                              round(sum(emp) FILTER (WHERE cluster_type = 'local'))::BIGINT AS local
                       FROM cells GROUP BY ALL)
           SELECT {KEY}, {{year: list(y.year ORDER BY y.year), traded: list(traded ORDER BY y.year),
                   local: list(local ORDER BY y.year), coverage: list(round(cv.coverage, 4) ORDER BY y.year)}}
           FROM y LEFT JOIN ({cov}) cv USING (region_type, region_code, year)
           GROUP BY side, region_type, region_code""",
    )


def _links(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, str]:
    """Per region: its strong clusters in each year with links data, with the number of related
    clusters, how many of them are strong there, and which (cluster_links / eu_cluster_links)."""
    src = both_sides(folder, "cluster_links")
    if src is None:
        return {}
    return keyed_json(
        con,
        f"""WITH l AS ({src}), last AS (SELECT region_type, region_code, max(year) AS year FROM l GROUP BY ALL)
           SELECT {KEY}, {{year: any_value(year), rows: list([cluster_code, n_related::VARCHAR, n_related_strong::VARCHAR,
                   coalesce(strong_related_clusters, '')] ORDER BY lq DESC, cluster_code)}}
           FROM l JOIN last USING (region_type, region_code, year) WHERE strong GROUP BY region_type, region_code""",
    )


def _opportunities(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, str]:
    """Per region: the ten clusters it does not yet specialise in with the highest relatedness
    density in its last year (relatedness_density / eu_relatedness_density)."""
    src = both_sides(folder, "relatedness_density", "region_type, region_code, year, cluster_code, density, lq, opportunity_rank")
    if src is None:
        return {}
    return keyed_json(
        con,
        f"""WITH d AS ({src}), last AS (SELECT region_type, region_code, max(year) AS year FROM d GROUP BY ALL)
           SELECT {KEY}, {{year: any_value(year), rows: list([cluster_code, round(density, 3)::VARCHAR, round(lq, 2)::VARCHAR]
                   ORDER BY opportunity_rank, cluster_code)}}
           FROM d JOIN last USING (region_type, region_code, year) WHERE opportunity_rank <= 10 GROUP BY region_type, region_code""",
    )


def _shift_share(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, str]:
    """Per region: the full-window shift-share of its traded clusters (change = national +
    industry mix + competitive)."""
    src = both_sides(folder, "shift_share")
    if src is None:
        return {}
    return keyed_json(
        con,
        f"""SELECT {KEY}, {{w0: any_value(window_start), w1: any_value(window_end),
                   c: list(cluster_code ORDER BY emp_start DESC, cluster_code),
                   rows: list([emp_change, national_effect, mix_effect, competitive_effect]::BIGINT[] ORDER BY emp_start DESC, cluster_code)}}
           FROM ({src}) WHERE window_kind = 'full' AND cluster_type = 'traded' GROUP BY region_type, region_code""",
    )


def _emerging(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, str]:
    """Per region: its clusters flagged emerging in the latest window, with the window's LQ change
    and employment growth."""
    src = both_sides(folder, "emerging_clusters")
    if src is None:
        return {}
    return keyed_json(
        con,
        f"""WITH e AS ({src}), last AS (SELECT region_type, region_code, max(window_end) AS window_end FROM e GROUP BY ALL)
           SELECT {KEY}, {{w0: any_value(window_start), w1: any_value(window_end),
                   rows: list([cluster_code, quadrant, round(lq_start, 2)::VARCHAR, round(lq_end, 2)::VARCHAR,
                               round(emp_growth, 3)::VARCHAR] ORDER BY lq_end DESC, cluster_code)}}
           FROM e JOIN last USING (region_type, region_code, window_end) WHERE emerging GROUP BY region_type, region_code""",
    )


def industries_html(con: duckdb.DuckDBPyConnection, folder: Path) -> str:
    """The US industry drill-down: per region, its employment in each 6-digit NAICS industry of
    each cluster in its latest year (times the industry's weight in the cluster, as the cluster
    figures are built: the rows add up to cluster_indicators.emp), one packed block per region
    type, inflated only when a drill-down is shown."""
    if not (has(folder, "industry_employment") and has(folder, "cluster_naics")):
        return ""
    rows = keyed_json(
        con,
        f"""WITH v AS (SELECT DISTINCT year, definition_vintage FROM cluster_indicators WHERE definition_vintage IS NOT NULL),
               last AS (SELECT region_type, region_code, max(year) AS year FROM {table(folder, 'industry_employment')}
                        WHERE industry_level = 6 GROUP BY ALL),
               r AS (SELECT e.region_type, e.region_code, e.year, v.definition_vintage AS vintage, n.cluster_code, e.industry_code,
                            round(e.emp * n.weight)::BIGINT AS emp
                     FROM {table(folder, 'industry_employment')} e JOIN last USING (region_type, region_code, year)
                     JOIN v USING (year)
                     JOIN {table(folder, 'cluster_naics')} n ON n.naics = e.industry_code AND n.naics_vintage = v.definition_vintage
                     WHERE e.industry_level = 6 AND e.lfo = '-' AND e.emp > 0)
           SELECT {KEY}, {{year: any_value(year), vintage: any_value(vintage),
                   rows: list([cluster_code, industry_code, emp::VARCHAR] ORDER BY cluster_code, emp DESC, industry_code)}}
           FROM r GROUP BY region_type, region_code""",
    )
    by_type: dict[str, dict[str, str]] = {}
    for key, text in rows.items():
        by_type.setdefault(key.split("/", 1)[0], {})[key] = text
    return blocks_html(INDUSTRY_PREFIX, by_type)


def region_blocks(con: duckdb.DuckDBPyConnection, folder: Path) -> str:
    """The page's region data: one compressed JSON block per region type, {region key: parts}."""
    parts = {
        "series": _series(con),
        "summary": _summary(con, folder),
        "links": _links(con, folder),
        "opportunities": _opportunities(con, folder),
        "shiftShare": _shift_share(con, folder),
        "emerging": _emerging(con, folder),
    }
    by_region: dict[str, dict[str, str]] = {}
    for name, by_key in parts.items():
        for key, text in by_key.items():
            if key in parts["series"]:
                by_region.setdefault(key, {})[name] = text
    by_type: dict[str, dict[str, str]] = {}
    for key, region in by_region.items():
        by_type.setdefault(key.split("/", 1)[0], {})[key] = "{" + ",".join(f'"{n}":{t}' for n, t in region.items()) + "}"
    return blocks_html(REGION_PREFIX, by_type)


def region_section() -> str:
    """The section's controls and holders; region_profile.js fills them."""
    return """<div class="controls"><label>Region <input id="rp-search" class="search" list="rp-names" placeholder="type a region name" autocomplete="off"></label>
<label>Year <select id="rp-year"></select></label>
<label>Growth from <select id="rp-from"></select></label>
<label>Compare with <input id="rp-compare" class="search" list="rp-names" placeholder="another region (optional)" autocomplete="off"></label></div>
<datalist id="rp-names"></datalist>
<div id="rp-body" class="profiles"></div>"""
