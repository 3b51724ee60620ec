import json
import runpy
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_train_speed_runs_tiny_every_framework_and_renders(tmp_path):
    out = tmp_path / "train_speed.json"
    runpy.run_path(str(BENCH / "train_speed.py"))["main"](
        ["--out", str(out), "--networks", "small_cnn", "--timesteps", "1,2", "--batch", "4",
         "--repeats", "2", "--min-seconds", "0.01", "--threads", "1",
         "--model-args", '{"channels": [4, 8, 8], "hidden": [16]}'])
    doc = json.loads(out.read_text())
    frameworks = {"leanspike", "leanspike_step", "leanspike_trainable", "snntorch",
                  "spikingjelly"}
    assert set(doc["frameworks"]) == frameworks
    assert [(r["network"], r["T"]) for r in doc["records"]] == [("small_cnn", 1), ("small_cnn", 2)]
    for r in doc["records"]:
        assert set(r["median"]) == frameworks and all(v > 0 for v in r["median"].values())
        assert all(len(v) == 2 for v in r["samples_per_s"].values())
        assert set(r["speedup"]) == {f"leanspike_vs_{f}" for f in frameworks - {"leanspike"}}
    assert "start" in doc["load_average"] and doc["machine"]["torch_threads"] == 1
    text = runpy.run_path(str(BENCH / "report.py"))["_train_speed"](doc)
    assert "SpikingJelly" in text and "small_cnn" in text


def test_the_frameworks_train_the_same_network():
    """Same layers and weights: leanspike's adopted model, snnTorch's and SpikingJelly's give
    the same logits on one input (the first forward, before any step)."""
    import torch

    ts = runpy.run_path(str(BENCH / "train_speed.py"))
    layers = ts["ann_layers"]("small_cnn", {"channels": [4, 8, 8], "hidden": [16]}, (1, 8, 8))
    x = torch.rand(3, 1, 8, 8) * 3
    logits = {}
    for f in ("leanspike", "snntorch", "spikingjelly"):
        torch.manual_seed(0)
        trainer = ts["Trainer"](f, layers, (1, 8, 8), 3, torch.device("cpu"))
        with torch.no_grad():
            logits[f] = (trainer.model.run(x).logits if f == "leanspike"
                         else trainer._forward(x))
    torch.testing.assert_close(logits["leanspike"], logits["snntorch"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits["leanspike"], logits["spikingjelly"], rtol=1e-4,
                               atol=1e-4)
