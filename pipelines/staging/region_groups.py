"""User-defined regions: named groups of base regions, aggregated before the indicators.

File format (YAML, see assets/region_groups.example.yaml)::

    groups:
      - code: MEDICON              # region_code of the group (unique, no blanks)
        name: Medicon Valley       # label
        base_type: nuts2           # region_type every member must have (nuts0..3, county, msa, state)
        nuts_version: "2021"       # optional: the NUTS version every member must be in
        members: [DK01, SE22]      # base region codes

Aggregated rows get ``region_type = 'custom'``, ``region_code = code``, ``custom_base_type =
base_type`` and ``custom_name``. A group is refused (RegionGroupError) when a member is unknown,
when members mix region types (a county with a NUTS region, NUTS 1 with NUTS 2) or NUTS
versions, or when the declared base_type / nuts_version does not match the data.
A group cell is the sum of its members; it is null (never a partial sum) when any member's value
is missing for that year and industry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

MEASURES = ("emp", "emp_reported", "est", "payroll", "qp1")
IMPUTED = ("emp_imputed", "est_imputed", "payroll_imputed")
_CODE = re.compile(r"^[A-Za-z0-9_\-]+$")


class RegionGroupError(ValueError):
    """A region-groups file or group that cannot be aggregated; names the file and group."""


@dataclass(frozen=True)
class RegionGroup:
    code: str
    name: str
    base_type: str
    members: tuple[str, ...]
    nuts_version: str | None = None


def load_region_groups(path: Path) -> list[RegionGroup]:
    """Parse and check the structure of a region-groups YAML file."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise RegionGroupError(f"{path}: cannot read region groups: {exc}") from exc
    except yaml.YAMLError as exc:
        # One line naming this file (not YAML's `in "<unicode string>"`); `from None`: the CLI
        # prints the innermost cause, which would be YAML's text again.
        raise RegionGroupError(f"{path}: invalid region groups YAML: {_yaml_problem(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise RegionGroupError(f"{path}: expected a mapping with a 'groups' list")
    out: list[RegionGroup] = []
    seen: set[str] = set()
    for i, g in enumerate(doc["groups"]):
        where = f"{path}: group #{i + 1}"
        if not isinstance(g, dict):
            raise RegionGroupError(f"{where}: expected a mapping")
        unknown = sorted(set(g) - {"code", "name", "base_type", "nuts_version", "members"})
        if unknown:
            raise RegionGroupError(f"{where}: unknown keys {unknown}")
        code = str(g.get("code") or "").strip()
        if not _CODE.match(code):
            raise RegionGroupError(f"{where}: 'code' must be letters, digits, '_' or '-', got {code!r}")
        if code in seen:
            raise RegionGroupError(f"{where}: duplicate group code {code!r}")
        seen.add(code)
        members = g.get("members")
        if not isinstance(members, list) or not members:
            raise RegionGroupError(f"{where} ({code}): 'members' must be a non-empty list")
        members_s = tuple(str(m).strip() for m in members)
        if len(set(members_s)) != len(members_s):
            raise RegionGroupError(f"{where} ({code}): duplicate members {members_s}")
        base_type = str(g.get("base_type") or "").strip()
        if not base_type:
            raise RegionGroupError(f"{where} ({code}): 'base_type' is required (e.g. nuts2, county)")
        nv = g.get("nuts_version")
        out.append(RegionGroup(code, str(g.get("name") or code), base_type, members_s, str(nv) if nv is not None else None))
    return out


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """'line 4, column 7: expected ',' or ']', but got ':'' from a YAML error, on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}" + (f" ({context})" if context else "")


def check_groups(ind: pl.LazyFrame | pl.DataFrame, groups: list[RegionGroup], source: str = "region groups") -> None:
    """Refuse unknown members and groups mixing region types or NUTS versions."""
    lf = ind.lazy()
    has_version = "nuts_version" in lf.collect_schema().names()
    all_members = sorted({m for g in groups for m in g.members})
    cols = ["region_code", "region_type"] + (["nuts_version"] if has_version else [])
    present = lf.filter(pl.col("region_code").is_in(all_members)).select(cols).unique().collect()
    for g in groups:
        rows = present.filter(pl.col("region_code").is_in(list(g.members)))
        missing = sorted(set(g.members) - set(rows["region_code"].to_list()))
        if missing:
            raise RegionGroupError(f"{source}: group {g.code} ({g.name}) names unknown regions {missing}")
        types = sorted(set(rows["region_type"].to_list()))
        if len(types) > 1:
            detail = ", ".join(f"{r[0]}={r[1]}" for r in rows.select("region_code", "region_type").unique().sort("region_code").iter_rows())
            raise RegionGroupError(
                f"{source}: group {g.code} ({g.name}) mixes incompatible region units {types} ({detail}); "
                "all members must be of one region type"
            )
        if types != [g.base_type]:
            raise RegionGroupError(
                f"{source}: group {g.code} ({g.name}) declares base_type {g.base_type!r} but its members are {types}"
            )
        if has_version:
            versions = sorted({v for v in rows["nuts_version"].to_list() if v is not None})
            if len(versions) > 1 or (rows["nuts_version"].null_count() and versions):
                detail = ", ".join(f"{r[0]}={r[1]}" for r in rows.select("region_code", "nuts_version").unique().sort("region_code").iter_rows())
                raise RegionGroupError(
                    f"{source}: group {g.code} ({g.name}) mixes NUTS versions ({detail}); recode first "
                    "or choose members of one version"
                )
            if g.nuts_version is not None and versions != [g.nuts_version]:
                raise RegionGroupError(
                    f"{source}: group {g.code} ({g.name}) declares nuts_version {g.nuts_version!r} but its members are {versions}"
                )


def aggregate_region_groups(
    ind: pl.LazyFrame | pl.DataFrame, groups: list[RegionGroup], source: str = "region groups"
) -> pl.DataFrame:
    """Rows of the harmonised long table for each group (region_type 'custom')."""
    check_groups(ind, groups, source)
    if not groups:
        return pl.DataFrame()
    lf = ind.lazy()
    schema = lf.collect_schema()
    names = schema.names()
    membership = pl.DataFrame(
        [(m, g.code, g.name, g.base_type, len(g.members)) for g in groups for m in g.members],
        schema={"region_code": pl.String, "_group": pl.String, "_name": pl.String, "_base": pl.String, "_n": pl.Int64},
        orient="row",
    )
    measures = [m for m in MEASURES if m in names]
    imputed = [c for c in IMPUTED if c in names]
    key = [c for c in ("year", "classification", "industry_code", "industry_level", "lfo", "nuts_version", "currency") if c in names]
    j = lf.join(membership.lazy(), on="region_code", how="inner").filter(pl.col("region_type") == pl.col("_base"))
    complete = pl.col("region_code").n_unique() == pl.col("_n").first()

    def total(c: str) -> pl.Expr:
        return pl.when(complete & (pl.col(c).null_count() == 0)).then(pl.col(c).sort().sum()).otherwise(None).alias(c)

    agg = j.group_by(*key, "_group", "_name", "_base").agg(
        *[total(c) for c in measures],
        *[pl.col(c).any().alias(c) for c in imputed],
        *[pl.col(c).unique().sort().str.join(",").alias(c) for c in ("source_id", "source_sha256") if c in names],
    )
    out = agg.with_columns(
        pl.lit("custom").alias("region_type"),
        pl.col("_group").alias("region_code"),
        pl.col("_base").alias("custom_base_type"),
        pl.col("_name").alias("custom_name"),
    ).drop("_group", "_name", "_base")
    cols = [c for c in names if c in out.collect_schema().names()] + ["custom_base_type", "custom_name"]
    return out.select(cols).cast({c: schema[c] for c in cols if c in schema}).collect()
