import json

from leanspike.registry import Registry


def test_prune_cli_sweeps_registers_and_plots(tmp_path, cli):
    reg = str(tmp_path / "reg")
    assert cli("train-ann", "--no-progress", "--epochs", "6", "--model-arg",
               "channels=[4,8,8]", "--model-arg", "hidden=[16]", "--activation", "clip",
               "--register", "d", "--registry", reg)[0] == 0
    assert cli("convert", "--ann", "d", "--registry", reg, "--timesteps", "1",
               "--finetune-epochs", "1", "--no-progress")[0] == 0
    out_dir = tmp_path / "run"
    code, out, _ = cli("prune", "--snn", "d@snn", "--registry", reg, "--method", "stds",
                       "--sweep", "0.5,0.9", "--epochs", "2", "--out", str(out_dir),
                       "--no-progress")
    assert code == 0, out
    assert "connectivity" in out and "energy ANN/SNN" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    # never short of the target; the balanced allocation can overshoot by a few synapses
    assert [s["sparsity"] >= s["target_sparsity"] for s in summary] == [True, True]
    assert [round(s["sparsity"], 1) for s in summary] == [0.5, 0.9]
    assert (out_dir / "accuracy_vs_sparsity.png").stat().st_size > 1000
    entries = Registry(reg).list(stage="pruned")
    assert [e.parent for e in entries] == ["d:2", "d:2"]
    assert {e.params["method"] for e in entries} == {"stds"}


def test_prune_cli_refuses_an_ann(tmp_path, cli):
    reg = str(tmp_path / "reg")
    cli("train-ann", "--no-progress", "--epochs", "1", "--arch", "mlp", "--register",
        "a", "--registry", reg)
    code, _, err = cli("prune", "--snn", "a", "--registry", reg)
    assert code == 2 and "is an ANN; convert it first" in err
