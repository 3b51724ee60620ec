from leanspike import load_spec
from leanspike.registry import Registry

TINY = ["--no-progress", "--epochs", "6", "--model-arg", "channels=[4,8,8]", "--model-arg",
        "hidden=[16]", "--activation", "clip"]


def test_convert_from_the_registry_registers_the_snn_with_its_parent(tmp_path, cli):
    reg = str(tmp_path / "reg")
    assert cli("train-ann", *TINY, "--register", "digits", "--registry", reg)[0] == 0
    code, out, _ = cli("convert", "--ann", "digits@ann", "--registry", reg, "--method",
                       "datta", "--timesteps", "2", "--finetune-epochs", "1", "--no-progress")
    assert code == 0, out
    assert "act1" in out and "threshold" in out and "expected mse" in out
    assert "SNN accuracy after 1 fine-tuning epochs" in out
    assert "45nm FP32 (Horowitz 2014): MAC 4.6 pJ, AC 0.9 pJ" in out
    assert "registered as digits:2 (parent digits:1)" in out
    entry = Registry(reg).get("digits@snn")
    assert entry.timesteps == 2 and entry.params["method"] == "datta"
    assert 0 <= entry.metrics["accuracy"] <= 1 and entry.metrics["energy_ratio"] > 0
    assert len(entry.params["layers"]) == 4


def test_convert_from_a_folder_writes_a_spec(tmp_path, cli):
    ann_dir, spec_dir = tmp_path / "ann", tmp_path / "spec"
    assert cli("train-ann", *TINY, "--out", str(ann_dir))[0] == 0
    code, out, _ = cli("convert", "--ann", str(ann_dir), "--method", "qcfs",
                       "--timesteps", "4", "--out", str(spec_dir), "--no-progress",
                       "--energy", "int32-45nm")
    assert code == 0 and "INT32" in out
    spec = load_spec(spec_dir)
    assert spec.timesteps == 4 and spec.metadata["converted_with"] == "qcfs"


def test_convert_bad_input(tmp_path, cli):
    reg = tmp_path / "reg"
    code, _, err = cli("convert", "--ann", "ghost", "--registry", str(reg))
    assert code == 2 and "no entry ghost@latest" in err
