"""The house rules of ../shared/DESIGN.md that the code itself can check: imports point down the layers only, no two
files import each other (directly or round a circle), no source file passes 800 lines, and engine/ stays free of torch
and ray. Every import counts, those inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"engine": 0, "nets": 1, "gtp": 1, "selfplay": 2, "training": 3, "igo": 4}
"""A package may import from packages of a lower number (and from its own); ``igo`` is the command at the top."""
MAX_LINES = 800


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "igo":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "igo"


def _files() -> dict[str, Path]:
    """Module name -> file, for every source file of the installed packages."""
    out = {}
    for pkg in LAYERS:
        folder = ROOT / pkg
        for path in sorted(folder.glob("*.py")):
            base = "igo" if pkg == "igo" else f"igo.{pkg}"
            out[base if path.stem == "__init__" else f"{base}.{path.stem}"] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules that ``module`` imports (resolved to files in ``known``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    known = _files()
    return {m: _imports(m, p, known) for m, p in known.items()}


def test_imports_point_down_only():
    upward = []
    for module, targets in _graph().items():
        mine = LAYERS[_package_of(module)]
        for t in targets:
            if t == "igo":  # the package root: only the version lives there
                continue
            theirs = LAYERS[_package_of(t)]
            if theirs > mine or (theirs == mine and _package_of(t) != _package_of(module)):
                upward.append(f"{module} -> {t}")
    assert not upward, "imports that run up or sideways:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = _graph()
    # Tarjan's strongly connected components: any component of two or more files is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_engine_needs_no_torch_or_ray():
    for module, path in _files().items():
        if _package_of(module) != "engine":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("torch", "ray") for n in names), f"{module} imports {names}"


def test_no_source_file_passes_800_lines():
    long = {m: n for m, p in _files().items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these files: {long}"


def test_the_checker_sees_imports():
    # the rules above would pass on a graph with no edges: make sure the graph is real
    graph = _graph()
    assert "igo.engine.board_kernels" in graph["igo.engine.board"]
    assert "igo.engine.search" in graph["igo.engine.player"]
    assert "igo.nets.checkpoint" in graph["igo.nets.evaluator"] or "igo.nets.checkpoint" in graph["igo.nets.player"]
