"""The layers of DESIGN.md §4 hold: what each package may import, no cycles, no hidden imports.

Read from the source (``ast``), not by importing it. An import inside a
function hides a dependency (often a cycle); an ``if TYPE_CHECKING:`` block at
module level is the one place an annotation-only import may go, and it does
not count as a dependency at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "latticework"

# Importer (package or module) -> the internal packages and modules it may import besides itself.
BASE = {"latticework", "latticework.formats"}  # the package's __init__ (version); ARNs, ids and timestamps
ALLOWED: dict[str, set[str]] = {
    "store": set(),
    "records": {"store"},
    "quotas": set(),
    "config": {"quotas"},
    "httppath": set(),
    "seams": set(),
    "policy": set(),
    "sigv4a": set(),
    "sigv4": {"config", "sigv4a"},
    "fabric": {"store", "records", "config"},
    "snapshot": {"store", "records", "fabric", "config", "httppath"},
    "dns": {"snapshot", "fabric", "records", "store"},
    "dataplane": {"snapshot", "dns", "fabric", "records", "store", "seams", "policy", "httppath", "sigv4", "config"},
    "api": {"store", "config", "quotas", "seams", "records", "sigv4", "sigv4a"},
    "services": {"api", "store", "records", "fabric", "policy", "quotas", "config", "seams"},
    "targets": set(),
    "tools": {"api"},
    "ownpaths_client": {"config", "fabric"},
    "vpcclient": {"fabric", "ownpaths_client"},
    "demo": {"fabric", "ownpaths_client", "vpcclient", "targets", "config"},
    "server": {"api", "services", "dataplane", "store", "config", "fabric", "seams", "snapshot"},
    "cli_dataplane": {"fabric", "ownpaths_client", "config"},
    "cli_explain": {"cli_dataplane", "ownpaths_client"},
    "cli": {"config", "fabric", "cli_dataplane", "cli_explain", "demo", "ownpaths_client", "server", "store"},
    "__main__": {"cli"},
}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(max(node.level - 1, 0)):
            base = base.rpartition(".")[0]
        target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
        names = [target, *(f"{target}.{a.name}" for a in node.names)]
    return [n for n in names if n in MODULES]


def _type_checking_only(tree: ast.Module) -> set[int]:
    guarded = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(n) for n in ast.walk(node))
    return guarded


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    hidden = []
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text())
        top, guarded = {id(n) for n in tree.body}, _type_checking_only(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in guarded:
                continue
            targets = [t for t in _targets(module, is_package, node) if t != module]
            if targets and id(node) not in top:
                hidden.append((module, targets[0]))
            edges[module].update(targets)
    return edges, hidden


EDGES, HIDDEN = _graph()


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_no_import_hides_inside_a_function():
    assert HIDDEN == []


def test_every_package_imports_only_the_layers_below_it():
    wrong = []
    for module, targets in EDGES.items():
        layer = _layer(module)
        if module in BASE:
            continue
        assert layer in ALLOWED, f"{module} belongs to no layer: add it to ALLOWED"
        for target in targets:
            if target not in BASE and _layer(target) != layer and _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_control_plane_and_the_data_plane_meet_only_in_the_server():
    for module, targets in EDGES.items():
        layer = _layer(module)
        other = {"dataplane", "dns"} if layer in ("api", "services") else {"api", "services"}
        if layer in ("api", "services", "dataplane", "dns"):
            assert not {_layer(t) for t in targets} & other, module


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    # A package's __init__ importing its own modules is not a cycle of design; only count edges
    # between modules that are not a package and its own children.
    edges = {m: {t for t in targets if not t.startswith(m + ".") and not m.startswith(t + ".")}
             for m, targets in EDGES.items()}
    assert _cycles(edges) == []


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"c"}}, [["a", "b"]]),
])
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert _cycles(edges) == expected
