import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_conversion_benchmark_runs_small_with_the_peer(tmp_path):
    out = tmp_path / "conversion.json"
    runpy.run_path(str(BENCH / "conversion.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--epochs", "3", "--timesteps", "1,2",
         "--finetune-epochs", "1", "--model-args", '{"channels": [4, 8, 8], "hidden": [16]}'])
    doc = json.loads(out.read_text())
    assert 0.1 < doc["ann_relu_accuracy"] <= 1
    records = {(r["method"], r["T"], r["finetuned"]): r for r in doc["records"]}
    for method in ("max", "percentile", "datta", "qcfs"):
        for T in (1, 2):
            assert 0 <= records[(method, T, False)]["accuracy"] <= 1
        assert records[(method, 2, True)]["energy_ratio"] > 0
    assert ("spikingjelly_max", 2, False) in records
    assert ("spikingjelly_99.9", 1, False) in records
    text = runpy.run_path(str(BENCH / "report.py"))["_conversion"](doc)
    assert "| datta | clip |" in text
