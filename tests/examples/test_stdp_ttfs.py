import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stdp_ttfs.py"


def test_example_learns_prunes_and_saves(tmp_path, capsys):
    result = runpy.run_path(str(EXAMPLE))["main"](
        ["--out", str(tmp_path / "net"), "--channels", "4,8", "--epochs", "0.3",
         "--lava-samples", "0"])
    assert result.accuracy > 0.5
    assert result.overall_connectivity < 1.0            # pruned while learning
    assert (tmp_path / "net" / "ttfs.json").is_file()
    assert "weights alive" in capsys.readouterr().out


@pytest.mark.lava
def test_example_runs_on_lava(tmp_path, capsys):
    runpy.run_path(str(EXAMPLE))["main"](
        ["--out", str(tmp_path / "net"), "--channels", "4,8", "--epochs", "0.2",
         "--lava-samples", "2"])
    assert "Lava agrees with torch exactly" in capsys.readouterr().out
