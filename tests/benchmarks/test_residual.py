import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.lava
def test_residual_benchmark_runs_small(tmp_path):
    out = tmp_path / "residual.json"
    runpy.run_path(str(BENCH / "residual.py"))["main"](
        ["--out", str(out), "--archs", "small_cnn,sew_resnet", "--quick", "--limit", "30",
         "--sparsity", "0.8"])
    doc = json.loads(out.read_text())
    assert [(r["arch"], r["graph"]) for r in doc["records"]] == [("small_cnn", False),
                                                                  ("sew_resnet", True)]
    for r in doc["records"]:
        assert r["T2"] > 0.5 and abs(r["sparsity"] - 0.8) < 0.06
        assert r["lava_emulation_agreement"] == 1.0 and 0 <= r["lava"] <= 1
        assert r["T1_synops"] < r["T2_synops"]
    assert "ann" not in doc["records"][1]  # trained directly: no ANN
    text = runpy.run_path(str(BENCH / "report.py"))["_residual"](doc)
    assert "sew_resnet" in text and "graph" in text
