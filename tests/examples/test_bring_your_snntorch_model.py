import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bring_your_snntorch_model.py"

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("shape", ["avg-pool", "max-pool", "batch-norm", "tutorial-class",
                                   "synaptic-class", "lapicque"])
def test_each_users_model_goes_to_lava_unchanged(shape, capsys):
    users, retrained, pruned, report = runpy.run_path(str(EXAMPLE))["main"](
        ["--shape", shape, "--epochs", "3", "--retrain-epochs", "1", "--prune-epochs", "2",
         "--lava-samples", "8"])
    assert users > 0.5  # ten classes
    assert [s.timesteps for s in retrained.stages] == [4, 2, 1]
    assert abs(pruned.sparsity - 0.9) < 0.02 and pruned.spec.timesteps == 1
    assert report.agree  # every spike of every layer equal between snnTorch and Lava
    out = capsys.readouterr().out
    assert "the user's accuracy" in out and "on Lava (Loihi 2 fixed point)" in out
