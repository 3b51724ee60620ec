"""The package installs as a regular wheel, not only in editable mode, and the environment
script explains itself when Python 3.10 is missing."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_packages() -> set[str]:
    found = set()
    for folder, prefix in (("plugin", "leanspike"), ("adapters", "leanspike/adapters"),
                           ("app", "leanspike/app")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(str(Path(prefix, rel)) if str(rel) != "." else prefix)
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src")
    for item in ("pyproject.toml", "README.md", "plugin", "adapters", "app"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, src / item)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = out.glob("leanspike-*.whl")
    return whl


def test_wheel_holds_every_package_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packages = {str(Path(n).parent) for n in names if n.endswith("/__init__.py")}
    assert packages == _source_packages(), "pyproject's package list is out of date"
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Python: >=3.10" in text
    assert "Provides-Extra: lava" in text
    assert not any(line.startswith("Requires-Dist: lava") and "extra ==" not in line
                   for line in text.splitlines()), "Lava must stay an optional extra"


def test_installed_wheel_imports_and_runs(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code = ("import leanspike, leanspike.adapters.snntorch, leanspike.zoo; "
            "print(leanspike.__file__); print(leanspike.adapters.snntorch.__file__); "
            "from leanspike.app.cli import main; main(['zoo', 'list'])")
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    core_file, adapter_file = proc.stdout.splitlines()[:2]
    assert core_file.startswith(str(target)) and adapter_file.startswith(str(target))
    assert "small_cnn" in proc.stdout


def test_environment_script_explains_a_missing_python(tmp_path):
    for item in ("pyproject.toml", ".python-version"):
        shutil.copy(ROOT / item, tmp_path / item)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ensure-venv.sh", tmp_path / "scripts")
    (tmp_path / ".python-version").write_text("3.99\n")  # a version no machine has
    proc = subprocess.run(["bash", "scripts/ensure-venv.sh"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "needs Python 3.99, and none was found" in proc.stderr
    assert "pyenv install 3.99" in proc.stderr
    assert not (tmp_path / ".venv").exists()
