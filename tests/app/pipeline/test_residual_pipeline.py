"""The main job on a residual SNN (``--arch sew_resnet``): trained directly, retrained to T=1,
pruned, snapped to fixed point and run on Lava, where every output is the fixed-point
emulation's and the predictions are the snapped twin's."""

import json

import pytest

pytestmark = pytest.mark.lava


def test_sew_resnet_goes_through_every_stage_to_lava(tmp_path):
    from leanspike.app.cli import main
    from leanspike.registry import Registry

    assert main(["pipeline", "--quick", "--arch", "sew_resnet", "--registry",
                 str(tmp_path / "reg"), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    stages = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]
    assert stages[0]["stage"].startswith("SNN trained directly (T=2")
    assert stages[0]["accuracy"] > 0.5  # ten classes (measured 0.85)
    final = stages[-1]
    assert final["T"] == 1 and final["sparsity"] >= 0.89
    assert final["emulation_agreement"] == 1.0  # Lava bit for bit with the integers' emulation
    assert final["lava_agreement"] >= 0.99  # and with the snapped snnTorch twin (ties aside)
    assert final["untied_agreement"] >= final["lava_agreement"] - 1e-9
    assert 0 <= final["tied_outputs"] < final["test_samples"]
    assert final["input_exact"] is True  # digits' 17 levels fit the 8-bit input exactly
    assert stages[-2]["stage"] == "Loihi 2 fixed point (snnTorch twin)"
    assert final["accuracy"] > 0.2  # 90% pruned in 12 quick epochs (measured 0.38-0.42)
    reg = Registry(tmp_path / "reg")
    final_entry = reg.list(stage="deployed-lava-fixed")[-1]
    assert [e.stage for e in reg.lineage(final_entry)][::-1] == [
        "trained-snn", "retrained", "pruned", "quantised", "deployed-lava-fixed"]
    assert reg.load(final_entry).is_graph
