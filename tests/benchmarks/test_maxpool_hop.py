import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.lava


def test_maxpool_hop_benchmark_runs_small_and_is_exact(tmp_path):
    out = tmp_path / "maxpool_hop.json"
    runpy.run_path(str(BENCH / "maxpool_hop.py"))["main"](
        ["--out", str(out), "--limit", "4", "--epochs", "1", "--channels", "2,4",
         "--timesteps", "2", "--repeats", "1"])
    doc = json.loads(out.read_text())
    pooled = [r for r in doc["records"] if r["network"] == "max_pooled"]
    assert len(pooled) == 4 and all(r["spikes_exact"] for r in pooled)
    assert all(h["extra_steps"] == 2 for h in doc["hops"])  # one hop per pooling population
