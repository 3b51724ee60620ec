import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_stdp_benchmark_runs_small(tmp_path):
    out = tmp_path / "stdp.json"
    runpy.run_path(str(BENCH / "stdp.py"))["main"](
        ["--out", str(out), "--seeds", "2", "--channels", "4,8", "--epochs", "0.2,0.2",
         "--lava-samples", "0"])
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "stdp" and doc["machine"] and doc["command"]
    assert [r["pruning"] for r in doc["records"]] == [True, False]
    for r in doc["records"]:
        for key in ("accuracy", "connectivity", "learn_seconds", "synaptic_updates",
                    "inference_synaptic_events"):
            assert key in r
        assert 0 <= r["accuracy"] <= 1 and len(r["per_seed"]["accuracy"]) == 2
    pruned, dense = doc["records"]
    assert set(dense["connectivity"].values()) == {1.0}
    assert pruned["synaptic_updates"] <= dense["synaptic_updates"]
    assert pruned["inference_synaptic_events"] <= dense["inference_synaptic_events"]
    text = runpy.run_path(str(BENCH / "report.py"))["_stdp"](doc)
    assert "pruned" in text and "Targets" in text
