import subprocess
import sys

import pytest

from leanspike import __version__
from leanspike.app.cli import main
from leanspike.zoo import load_model


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"leanspike {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("zoo", "data", "train-ann"):
        assert command in out


def test_entry_point_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "leanspike.app", "zoo", "list"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "small_cnn" in proc.stdout


def test_zoo_list(cli):
    code, out, _ = cli("zoo", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["model", "input", "spec-convertible"]
    assert any(line.startswith("resnet20") and " yes " in line for line in lines)
    assert any(line.startswith("small_cnn") and "1x8x8" in line for line in lines)


def test_data_info(cli, tmp_path):
    code, out, _ = cli("data", "info", "digits")
    rows = {line[:16].strip(): line[16:].strip() for line in out.splitlines()}
    assert code == 0 and rows["train samples"] == "1347" and rows["test samples"] == "450"
    code, out, _ = cli("data", "info", "cifar10")
    assert code == 0 and "cifar-10-batches-py" in out and "pass --data-dir" in out
    code, out, err = cli("data", "info", "cifar10", "--data-dir", str(tmp_path / "x"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = cli("data", "info", "imagenet")
    assert code == 2 and "unknown dataset 'imagenet'" in err


def test_train_ann_saves_a_model_that_reloads(cli, tmp_path):
    out_dir = tmp_path / "ann"
    code, out, _ = cli("train-ann", "--epochs", "8", "--no-progress", "--out",
                       str(out_dir), "--model-arg", "channels=[4,8,8]", "--model-arg",
                       "hidden=[32]", "--activation", "clip", "--activation-arg", "init_clip=3")
    assert code == 0
    assert "datta2022 optimiser settings: sgd, lr 0.01" in out  # clip -> Datta & Beerel's
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.8
    model, meta = load_model(out_dir)
    assert meta["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert model.leanspike_config["kwargs"]["channels"] == [4, 8, 8]


def test_train_ann_bad_input(cli):
    code, _, err = cli("train-ann", "--arch", "alexnet", "--epochs", "1")
    assert code == 2 and "no model named 'alexnet'" in err
    code, _, err = cli("train-ann", "--model-arg", "width", "--epochs", "1")
    assert code == 2 and "--model-arg expects KEY=VALUE" in err
    code, _, err = cli("train-ann", "--dataset", "mnist", "--epochs", "1")
    assert code == 2 and "pass --data-dir" in err


def test_tables_plain_and_markdown():
    from leanspike.app.tables import format_table

    plain = format_table(["a", "bb"], [[1, 0.123456], ["xyz", 2]])
    assert plain.splitlines() == ["a    bb", "---  ------", "1    0.1235", "xyz  2"]
    md = format_table(["a", "bb"], [[1, 2]], markdown=True)
    assert md.splitlines() == ["| a | bb |", "|---|---|", "| 1 | 2 |"]
