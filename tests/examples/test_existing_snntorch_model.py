import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "existing_snntorch_model.py"

pytestmark = pytest.mark.lava


def test_plain_snntorch_model_is_retrained_pruned_and_agrees_on_lava(capsys):
    retrained, pruned, report = runpy.run_path(str(EXAMPLE))["main"](
        ["--epochs", "2", "--prune-epochs", "3", "--lava-samples", "12"])
    assert [s.timesteps for s in retrained.stages] == [4, 2, 1]
    assert retrained.final.accuracy > 0.5  # ten classes
    assert abs(pruned.sparsity - 0.9) < 0.02 and pruned.spec.timesteps == 1
    assert report.agree  # every spike of every layer equal between snnTorch and Lava
    assert "on Lava: accuracy" in capsys.readouterr().out
