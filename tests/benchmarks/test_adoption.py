import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.lava
def test_adoption_benchmark_runs_small(tmp_path):
    out = tmp_path / "adoption.json"
    runpy.run_path(str(BENCH / "adoption.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--shapes", "tutorial-class,max-pool", "--epochs",
         "2", "--retrain-epochs", "1", "--prune-epochs", "2"])
    doc = json.loads(out.read_text())
    assert [r["shape"] for r in doc["records"]] == ["tutorial-class", "max-pool"]
    for r in doc["records"]:
        assert 0.3 < r["users"] <= 1 and 0 <= r["adopted_counts"] <= 1
        for recipe in ("users_loss", "default"):
            assert abs(r[f"{recipe}_sparsity"] - 0.9) < 0.03
            assert r[f"{recipe}_lava_agreement"] > 0.95  # fixed point on Lava vs its twin
    assert {s["shape"] for s in doc["summary"]} == {"tutorial-class", "max-pool"}
    text = runpy.run_path(str(BENCH / "report.py"))["_adoption"](doc)
    assert "tutorial-class" in text
