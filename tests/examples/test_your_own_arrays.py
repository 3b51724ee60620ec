import json
import runpy
from pathlib import Path

import pytest

from leanspike.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "your_own_arrays.py"

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("dataset, classes, shape", [("wine", 3, (13,)),
                                                     ("breast-cancer", 2, (30,)),
                                                     ("waveforms", 3, (1, 64))])
def test_every_stage_runs_on_tables_and_signals(dataset, classes, shape, tmp_path):
    assert runpy.run_path(str(EXAMPLE))["main"](["--dataset", dataset, "--quick",
                                                 "--out", str(tmp_path)]) == 0
    stages = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]
    deployed = load_spec(tmp_path / "run" / "deployed_spec")
    assert deployed.input_shape == shape and deployed.output_shape == (classes,)
    assert stages[1]["accuracy"] > 1.5 / classes  # the ANN, well above chance
    assert stages[-1]["T"] == 1 and stages[-1]["sparsity"] > 0.85
    assert stages[-1]["accuracy"] > 1.2 / classes
    assert stages[-1]["lava_agreement"] > 0.85
