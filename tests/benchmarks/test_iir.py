import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_iir_benchmark_runs_small(tmp_path):
    out = tmp_path / "iir.json"
    runpy.run_path(str(BENCH / "iir.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--epochs", "3", "--epochs-per-stage", "1",
         "--t0", "3", "--model-args", '{"channels": [4, 8, 8], "hidden": [16]}',
         "--plot", str(tmp_path / "iir.png")])
    doc = json.loads(out.read_text())
    got = {(r["variant"], r["T"]) for r in doc["records"]}
    assert got == {("iir", 3), ("iir", 2), ("iir", 1), ("direct_jump", 3), ("direct_jump", 1),
                   ("direct_t1", 1)}
    by = {(r["variant"], r["T"]): r for r in doc["records"]}
    assert by[("direct_t1", 1)]["epochs"] == 3 == doc["epoch_budget"]
    assert by[("direct_jump", 1)]["epochs"] == 2
    assert all(0 <= r["accuracy"] <= 1 and r["energy_ratio"] > 0 for r in doc["records"])
    assert (tmp_path / "iir.png").stat().st_size > 1000
    text = runpy.run_path(str(BENCH / "report.py"))["_iir"](doc)
    assert "direct_t1" in text
