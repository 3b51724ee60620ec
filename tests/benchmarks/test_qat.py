import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.lava
def test_qat_benchmark_runs_small(tmp_path):
    out = tmp_path / "qat.json"
    runpy.run_path(str(BENCH / "qat.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--ann-epochs", "2", "--finetune-epochs", "1",
         "--retrain-epochs", "1", "--epochs-per-layer", "1", "--final-epochs", "0",
         "--lava-samples", "5"])
    doc = json.loads(out.read_text())
    assert [r["T"] for r in doc["records"]] == [2, 1]
    for r in doc["records"]:
        for key in ("float", "snapped", "qat", "control"):
            assert 0.1 < r[key] <= 1, key
        assert r["qat_lava_agreement"] == 1.0
    text = runpy.run_path(str(BENCH / "report.py"))["_qat"](doc)
    assert "T=2" in text and "T=1" in text
