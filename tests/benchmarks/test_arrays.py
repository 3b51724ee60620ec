import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.lava
def test_arrays_benchmark_runs_small(tmp_path):
    out = tmp_path / "arrays.json"
    runpy.run_path(str(BENCH / "arrays.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--tasks", "breast-cancer,waveforms", "--quick"])
    doc = json.loads(out.read_text())
    assert [(r["task"], r["classes"], r["input_shape"]) for r in doc["records"]] == [
        ("breast-cancer", 2, [30]), ("waveforms", 3, [1, 64])]
    for r in doc["records"]:
        assert r["ann"] > 0.6 and abs(r["sparsity"] - 0.9) < 0.05
        assert 0 <= r["lava_fixed"] <= 1 and r["lava_agreement"] > 0.85
    text = runpy.run_path(str(BENCH / "report.py"))["_arrays"](doc)
    assert "breast-cancer" in text and "waveforms" in text
