"""The pipeline's optional stage before deployment: fine-tuning onto Loihi 2's weight grid
(``[fixed_point] epochs_per_layer > 0``), registered between pruning and quantisation."""

import json

import pytest
import torch

pytestmark = pytest.mark.lava


def test_the_grid_stage_sits_between_pruning_and_quantisation(tmp_path):
    from leanspike.app.cli import main
    from leanspike.registry import Registry

    config = tmp_path / "qat.toml"
    config.write_text("[fixed_point]\nepochs_per_layer = 1\nfinal_epochs = 0\n")
    assert main(["pipeline", "--quick", "--config", str(config), "--registry",
                 str(tmp_path / "reg"), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    reg = Registry(tmp_path / "reg")
    final = reg.list(stage="deployed-lava-fixed")[-1]
    lineage = [e.stage for e in reg.lineage(final)][::-1]
    assert lineage[-4:] == ["pruned", "fixed-point-trained", "quantised", "deployed-lava-fixed"]
    on_grid = reg.load(reg.list(stage="fixed-point-trained")[-1])
    quantised = reg.load(reg.list(stage="quantised")[-1])
    for (i, a), (_, b) in zip(on_grid.weighted_layers(), quantised.weighted_layers()):
        assert torch.equal(a.weight, b.weight), i  # snapping moved no weight
    entry = reg.list(stage="fixed-point-trained")[-1]
    assert {"fixed_accuracy_before", "fixed_accuracy"} <= set(entry.metrics)
    stages = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]
    assert [s["stage"] for s in stages][5] == "on the weight grid (fine-tuned)"
    assert stages[-1]["lava_agreement"] >= 0.95
