"""Issue 14's layout rules, checked on the package's source: imports go one way through the stages,
no import cycles, no imports hidden inside functions, no private names across modules, modules of
about 400 lines at most. The checker runs on a small package with known faults first, so a checker
that stopped seeing them fails too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT

# A module may import its own layer and the layers after it, never one before it.
LAYERS = ["cli", "defs", "runs", "release", "validation", "warehouse", "staging", "raw", "sources", "core"]
MAX_MODULE_LINES = 400
# The CLI imports its commands lazily: `observatory releases list` must not pay for importing Dagster.
LAZY_IMPORTS_ALLOWED = ("pipelines.cli",)


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for p in sorted((root / "pipelines").rglob("*.py")):
        parts = list(p.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "core"


def _function_nodes(tree: ast.AST) -> set[ast.AST]:
    inside = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(n for n in ast.walk(fn) if n is not fn)
    return inside


def check(root: Path) -> list[str]:
    """Every rule violation under root/pipelines, one line each."""
    mods = _modules(root)
    edges: dict[str, set[str]] = defaultdict(set)
    problems = []
    for mod, path in mods.items():
        rel = path.relative_to(root)
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            problems.append(f"{rel}: {text.count(chr(10))} lines (more than {MAX_MODULE_LINES})")
        tree = ast.parse(text)
        in_function = _function_nodes(tree)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("pipelines"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.append(full if full in mods else node.module)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        problems.append(f"{rel}:{node.lineno}: imports private {alias.name} from {node.module}")
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("pipelines")]
            for target in targets:
                if target not in mods or target == mod:
                    continue
                edges[mod].add(target)
                if node in in_function and not mod.startswith(LAZY_IMPORTS_ALLOWED):
                    problems.append(f"{rel}:{node.lineno}: imports {target} inside a function")
                if LAYERS.index(_layer(target)) < LAYERS.index(_layer(mod)):
                    problems.append(f"{rel}:{node.lineno}: {_layer(mod)} imports {target} from {_layer(target)} above it")
        imported = {
            (a.asname or a.name): f"{n.module}.{a.name}"
            for n in tree.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("pipelines")
            for a in n.names if f"{n.module}.{a.name}" in mods
        }
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                problems.append(f"{rel}:{node.lineno}: uses private {node.value.id}.{node.attr}")
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(edges)]
    return problems


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_checker_sees_each_kind_of_fault(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/staging/__init__.py": "",
        "pipelines/staging/a.py": "from pipelines.release.b import x\n",
        "pipelines/release/__init__.py": "",
        "pipelines/release/b.py": "from pipelines.staging.a import _y\nx = 1\n",
        "pipelines/warehouse/__init__.py": "",
        "pipelines/warehouse/c.py": "def f():\n    from pipelines.staging import a\n    return a._z\n" + "\n" * 400,
    })
    found = "\n".join(check(tmp_path))
    assert "staging imports pipelines.release.b from release above it" in found
    assert "imports private _y" in found
    assert "imports pipelines.staging.a inside a function" in found
    assert "lines (more than 400)" in found
    assert "import cycle: pipelines.release.b -> pipelines.staging.a" in found


def test_clean_package_has_no_findings(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/release/__init__.py": "",
        "pipelines/release/b.py": "from pipelines.staging import a\nx = a.y\n",
        "pipelines/staging/__init__.py": "",
        "pipelines/staging/a.py": "y = 1\n",
    })
    assert check(tmp_path) == []


@pytest.mark.parametrize("rule", ["cycle", "layer", "private", "function", "lines"])
def test_pipelines_follows_the_layout_rules(rule: str) -> None:
    words = {"cycle": "import cycle", "layer": "above it", "private": "private", "function": "inside a function", "lines": "lines (more than"}
    found = [p for p in check(PROJECT_ROOT) if words[rule] in p]
    assert found == [], "\n".join(found)
