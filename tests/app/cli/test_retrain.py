import json

from leanspike.registry import Registry


def test_retrain_cli_from_an_ann_and_from_an_snn(tmp_path, cli):
    reg = str(tmp_path / "reg")
    code, _, _ = cli("train-ann", "--no-progress", "--epochs", "8", "--model-arg",
                     "channels=[4,8,8]", "--model-arg", "hidden=[16]", "--register", "d",
                     "--registry", reg)
    assert code == 0
    out_dir = tmp_path / "run"
    code, out, _ = cli("retrain", "--ann", "d@ann", "--registry", reg, "--schedule",
                       "3,2,1", "--epochs-per-stage", "1", "--out", str(out_dir),
                       "--no-progress")
    assert code == 0, out
    assert "converted d@ann with the IIR paper's method at T=3" in out
    assert "firing rate per layer" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert [s["timesteps"] for s in summary["stages"]] == [3, 2, 1]
    assert (out_dir / "accuracy_energy_vs_T.png").stat().st_size > 1000
    assert (out_dir / "final_spec" / "spec.json").is_file()
    chain = Registry(reg).lineage("d")
    assert [(e.stage, e.timesteps) for e in chain] == [
        ("retrained", 1), ("retrained", 2), ("retrained", 3), ("snn", 3), ("ann", None)]

    code, out, _ = cli("retrain", "--snn", "d:3", "--registry", reg, "--schedule", "2,1",
                       "--epochs-per-stage", "1", "--out", str(tmp_path / "run2"),
                       "--no-progress")
    assert code == 0
    assert Registry(reg).get("d").parent == "d:6"


def test_retrain_cli_bad_input(tmp_path, cli):
    code, _, err = cli("retrain", "--snn", "x", "--schedule", "1,2")
    assert code == 2 and "strictly decrease" in err
    code, _, err = cli("retrain", "--schedule", "2,1")
    assert code == 2 and "exactly one of --snn" in err
