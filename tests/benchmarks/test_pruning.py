import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_pruning_benchmark_runs_small(tmp_path):
    out = tmp_path / "pruning.json"
    runpy.run_path(str(BENCH / "pruning.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--ann-epochs", "3", "--epochs-per-stage", "1",
         "--epochs", "2", "--sparsities", "0.5,0.9", "--model-args",
         '{"channels": [4, 8, 8], "hidden": [16]}', "--plot", str(tmp_path / "p.png")])
    doc = json.loads(out.read_text())
    keys = {(r["method"], r["T"], r["target_sparsity"]) for r in doc["records"]}
    assert keys == {(m, t, p) for m in ("gradr", "magnitude", "stds") for t in (1, 2)
                    for p in (0.5, 0.9)}
    for r in doc["records"]:
        assert abs(r["sparsity"] - r["target_sparsity"]) < 0.05
        assert 0 <= r["accuracy"] <= 1 and r["synops"] >= 0
    assert set(doc["dense_accuracy"]) == {"1", "2"}
    text = runpy.run_path(str(BENCH / "report.py"))["_pruning"](doc)
    assert "gradr" in text and "magnitude" in text and "stds" in text
    assert doc["allocation"] == "balanced" and "Grad R" in doc["recipe"]
    assert doc["recipe"] in text
