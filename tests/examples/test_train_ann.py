import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_ann.py"


def test_example_trains_saves_and_rebuilds(tmp_path, capsys):
    namespace = runpy.run_path(str(EXAMPLE))
    accuracy = namespace["main"](["--epochs", "6", "--out", str(tmp_path / "ann")])
    assert accuracy > 0.85
    assert (tmp_path / "ann" / "model.json").is_file()
    assert "saved to" in capsys.readouterr().out
