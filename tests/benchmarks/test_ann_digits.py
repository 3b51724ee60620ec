import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_benchmark_writes_json_with_machine_and_records(tmp_path):
    out = tmp_path / "ann.json"
    runpy.run_path(str(BENCH / "ann_digits.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--epochs", "3", "--archs", "mlp",
         "--activations", "relu"])
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "ann_digits" and doc["machine"]["cores"] >= 1
    (record,) = doc["records"]
    assert record["arch"] == "mlp" and record["accuracy_median"] > 0.5


def test_report_renders_every_result():
    text = runpy.run_path(str(BENCH / "report.py"))["render"]()
    for path in (BENCH / "results").glob("*.json"):
        assert json.loads(path.read_text())["command"] in text
