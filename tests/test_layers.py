"""The three layers hold: the core imports no adapter, no app module, no snnTorch and no Lava;
the adapters import no app module; the snnTorch adapter needs no Lava; nothing imports in a
circle. Each contract is also shown to fail when it is crossed, so the check can fail."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" /
                                               "check_imports.py")
check_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_imports)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _core_modules() -> set[str]:
    """Every top-level module and package of the core folder, by its import name (the links
    to the adapters and the app are not the core)."""
    names = set()
    for item in (ROOT / "plugin").iterdir():
        if item.is_symlink():
            continue
        if item.is_dir() and (item / "__init__.py").is_file():
            names.add(item.name)
        elif item.suffix == ".py" and item.stem != "__init__":
            names.add(item.stem)
    return names


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _broken(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package with ``line`` added to ``module`` (a path in the copy)."""
    path = check_imports.lay_out_package(tmp_path)
    target = path / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    return path


def test_every_core_module_is_under_both_core_contracts():
    core = _core_modules()
    contracts = _contracts()
    layer = {m.strip() for m in contracts["layers"]["layers"][-1].split(":")}
    assert layer == core, "list new core modules in pyproject's layer contract"
    neutral = {m.removeprefix("leanspike.") for m in contracts["core-neutral"]["source_modules"]}
    assert neutral == core, "list new core modules in pyproject's core-neutral contract"


def test_the_contracts_are_kept():
    """``lint-imports`` in the repository, exactly as a developer runs it."""
    proc = check_imports.lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 kept, 0 broken" in proc.stdout


def test_no_module_imports_in_a_circle():
    assert check_imports.import_cycles(ROOT) == []


@pytest.mark.parametrize(("module", "line", "contract"), [
    # a function-level import counts: the old CLI hid 17 of them in the core
    ("leanspike/spec.py", "def _f():\n    import leanspike.adapters.snntorch",
     "app -> adapters -> core, never upwards"),
    ("leanspike/zoo/models.py", "from leanspike.app import tables", "never upwards"),
    ("leanspike/adapters/netx.py", "from leanspike.app.cli import main", "never upwards"),
    ("leanspike/prune/gradr.py", "import snntorch", "the core imports neither snnTorch nor Lava"),
    ("leanspike/loihi/stages.py", "from lava.magma.core.process.process import AbstractProcess",
     "the core imports neither snnTorch nor Lava"),
    ("leanspike/adapters/snntorch/network.py", "import leanspike.adapters.lava",
     "work without Lava"),
    ("leanspike/registry/sources.py", "import nir", "the core imports neither snnTorch nor Lava"),
    ("leanspike/adapters/nir/ingest.py", "import snntorch",
     "the NIR adapter works without Lava and snnTorch"),
])
def test_a_crossing_breaks_its_contract(tmp_path, module, line, contract):
    proc = check_imports.lint_imports(_broken(tmp_path, module, line))
    assert proc.returncode != 0
    broken = [ln for ln in proc.stdout.splitlines() if ln.rstrip().endswith("BROKEN")]
    assert any(contract in ln for ln in broken), proc.stdout


def test_a_new_core_module_must_be_listed(tmp_path):
    path = check_imports.lay_out_package(tmp_path)
    (path / "leanspike" / "newthing.py").write_text("X = 1\n")
    proc = check_imports.lint_imports(path)
    assert proc.returncode != 0
    assert "newthing" in proc.stdout + proc.stderr


def test_a_cycle_is_found(tmp_path):
    path = _broken(tmp_path, "leanspike/errors.py", "def _f():\n    from leanspike import spec")
    cycles = check_imports.import_cycles(path)
    assert any({"leanspike.errors", "leanspike.spec"} <= set(c) for c in cycles), cycles
