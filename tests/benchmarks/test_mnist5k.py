import json
import runpy
from pathlib import Path

import pytest

from leanspike.app.pipeline import load_config

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.lava
def test_mnist5k_benchmark_runs_small_and_its_toml_repeats_it(tmp_path):
    out = tmp_path / "mnist5k.json"
    runpy.run_path(str(BENCH / "mnist5k.py"))["main"](
        ["--out", str(out), "--seeds", "1", "--ann-epochs", "1", "--finetune-epochs", "1",
         "--retrain-epochs", "1", "--prune-epochs", "1", "--limit", "20",
         "--pipeline-lava-limit", "10", "--model-args",
         '{"channels": [4, 8], "hidden": [16]}'])
    doc = json.loads(out.read_text())
    (r,) = doc["records"]
    for key in ("ann", "converted_T2", "retrained_T1", "pruned", "fixed_twin", "lava_fixed",
                "pipeline_lava"):
        assert 0.2 < r[key] <= 1, key  # one epoch on real MNIST is well above chance (0.1)
    assert abs(r["sparsity"] - 0.9) < 0.03
    assert r["input_bits"] == 9 and r["input_exact"]  # the grey levels encoded exactly
    # Lava runs the emulation's integers; it is the float twin unless the first layer's
    # 24-bit current wraps (9-bit payloads times full 8-bit weights)
    assert r["lava_samples"] == 20 and r["emulation_agreement"] == 1.0
    assert 0 <= r["first_layer_overflow"] <= 1 and r["pipeline_lava_samples"] == 10
    if r["first_layer_overflow"] == 0:
        assert r["lava_agreement"] == 1.0
    assert set(r["stage_seconds"]) == {"ann", "converted", "retrained", "pruned", "quantised",
                                       "deployed-lava-fixed", "lava (benchmark)"}
    text = runpy.run_path(str(BENCH / "report.py"))["_mnist5k"](doc)
    assert "pruned (Grad R), T=1" in text and "every seed exact" in text
    assert "load average" in text and set(doc["load_average"]) == {"start", "end"}
    toml = text.split("```toml\n", 1)[1].split("\n```", 1)[0]
    (tmp_path / "mnist5k.toml").write_text(toml)
    config = load_config(tmp_path / "mnist5k.toml").as_dict()
    for table, values in doc["config"].items():
        if isinstance(values, dict):
            assert {k: config[table][k] for k in values} == values, table
        elif table not in ("seed", "device"):
            assert config[table] == values, table
