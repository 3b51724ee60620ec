import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.lava


def test_lava_benchmark_runs_small_and_every_backend_agrees(tmp_path):
    out = tmp_path / "lava.json"
    runpy.run_path(str(BENCH / "lava_backends.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--epochs", "3", "--finetune-epochs", "1",
         "--retrain-epochs", "1", "--repeats", "1", "--limit", "6", "--model-args",
         '{"channels": [4, 8, 8], "hidden": [16]}'])
    doc = json.loads(out.read_text())
    backends = {"snntorch", "lava_float", "lava_fast_float", "torch_fixed_emulation",
                "lava_fixed", "lava_fast_fixed", "netx"}
    for network, T in (("converted_T2", 2), ("retrained_T1", 1)):
        rs = {r["backend"]: r for r in doc["records"] if r["network"] == network}
        assert set(rs) == backends and all(r["T"] == T for r in rs.values())
        assert rs["lava_float"]["agreement"] == 1.0 and rs["lava_float"]["spike_counts_equal"]
        assert rs["lava_fast_float"]["spike_counts_equal"]
        assert rs["lava_fixed"]["agreement_emulation"] == 1.0
        assert rs["lava_fast_fixed"]["agreement_emulation"] == 1.0
        assert all(r["samples_per_s"] > 0 for r in rs.values())
    assert doc["records"][0]["seed"] == 0
    netx_t1 = next(r for r in doc["records"]
                   if r["network"] == "retrained_T1" and r["backend"] == "netx")
    assert netx_t1["netx_exact"] and netx_t1["agreement_emulation"] == 1.0
    text = runpy.run_path(str(BENCH / "report.py"))["_lava"](doc)
    assert "lava_fast_fixed" in text and "per seed" in text
