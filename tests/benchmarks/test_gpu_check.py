import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.lava  # the pipeline deploys on Lava


def test_gpu_check_runs_tiny_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    runpy.run_path(str(BENCH / "gpu_check.py"))["main"](
        ["--device", "cpu", "--tiny", "--out", str(out)])
    doc = json.loads(out.read_text())
    assert doc["device"] == "cpu" and doc["tiny"]
    assert [r["T"] for r in doc["records"]] == [1, 2]
    for r in doc["records"]:
        assert r["network"] == "vgg16" and r["input_shape"] == [3, 32, 32]
        assert {"leanspike", "spikingjelly"} <= set(r["median"])
        assert all(v > 0 for v in r["median"].values())
    p = doc["pipeline"]
    assert p["rc"] == 0 and p["ok"], p["output_tail"]
    assert "--device cpu" in p["command"] and "summary.json" in p["run_files"]
    text = runpy.run_path(str(BENCH / "report.py"))["_gpu_check"](doc)
    assert "vgg16" in text and "rc 0" in text
