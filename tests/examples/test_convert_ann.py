import runpy
from pathlib import Path

from leanspike.registry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "convert_ann.py"


def test_example_converts_and_registers_a_lineage(tmp_path, capsys):
    reg = tmp_path / "reg"
    outcome = runpy.run_path(str(EXAMPLE))["main"](
        ["--registry", str(reg), "--epochs", "8", "--finetune-epochs", "1"])
    assert outcome.accuracy > 0.8
    assert [e.stage for e in Registry(reg).lineage("digits")] == ["snn", "ann"]
    assert "registered digits:1 -> digits:2" in capsys.readouterr().out
