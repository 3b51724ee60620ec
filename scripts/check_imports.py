"""Check leanspike's import structure: the layer contracts in pyproject.toml (import-linter) and
no import cycle between any two modules (grimp).

``plugin/`` is the package ``leanspike``; ``plugin/adapters`` and ``plugin/app`` are links to
the top-level ``adapters/`` and ``app/`` folders, so the source tree is laid out as the package
installs and ``lint-imports`` runs on it as it is. The tests also check copies of it with a
violation written in, to show each contract can fail.

    python scripts/check_imports.py          # exit 0 when every contract is kept
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lay_out_package(dest: Path, source: Path = ROOT) -> Path:
    """A copy of the package (links followed) under ``dest``, with pyproject.toml beside it,
    for checking a tree with a violation written in; returns ``dest``."""
    shutil.copytree(source / "plugin", dest / "leanspike",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(source / "pyproject.toml", dest / "pyproject.toml")
    return dest


def import_cycles(path: Path) -> list[list[str]]:
    """Every set of leanspike modules that import each other in a circle, in the package at
    ``path`` (as for ``lint_imports``). Computed in a fresh interpreter: in this one
    ``leanspike`` may already be imported from elsewhere, and grimp would read that one."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    proc = subprocess.run([sys.executable, __file__, "--cycles-json"], cwd=path, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


def _cycles_here() -> list[list[str]]:
    """Tarjan's strongly connected components over grimp's graph of the importable
    ``leanspike`` (a component of more than one module is a cycle)."""
    import grimp

    graph = grimp.build_graph("leanspike", cache_dir=None)
    modules = sorted(m for m in graph.modules if m.split(".")[0] == "leanspike")
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m)
                       if n.split(".")[0] == "leanspike") for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # recursive Tarjan; the graph has a few hundred nodes
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                cycles.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return cycles


def lint_imports(path: Path) -> subprocess.CompletedProcess:
    """import-linter with pyproject's contracts on the package at ``path`` (the repository:
    ``plugin/`` is found through the installed project; a copy: ``path/leanspike``)."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"],
                          cwd=path, env=env, capture_output=True, text=True, timeout=300)


def main() -> int:
    proc = lint_imports(ROOT)
    print(proc.stdout, proc.stderr, sep="")
    cycles = import_cycles(ROOT)
    for cycle in cycles:
        print("import cycle: " + " <-> ".join(cycle))
    return 1 if proc.returncode or cycles else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--cycles-json"]:
        print(json.dumps(_cycles_here()))
        sys.exit(0)
    sys.exit(main())
