"""STDP-learned TTFS networks with and without connection pruning during learning.

    python benchmarks/stdp.py --out benchmarks/results/stdp.json [--seeds 5]

Per seed (initial weights and sample order), the same network learns layer by layer with
STDP twice: pruning synapses whose weight falls below the threshold while it learns, and not
pruning. Both stop a layer at the same convergence target or epoch budget. Measured: readout
accuracy (linear SVM on the last layer's first spikes), connectivity per layer, learning wall
clock, CPU time and synaptic updates applied, synaptic events per test sample. Figures are
medians over seeds, every seed's value kept; the seed-0 pruned network is also run on Lava and its
first-spike times compared with torch's. Torch runs on one thread; on a shared machine the
CPU-time figures compare better than the wall-clock ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from common import RESULTS, median, write_result  # noqa: E402

from leanspike.stdp import Pruning, STDPConfig, encode, run_stdp  # noqa: E402
from leanspike.stdp.workflow import load_images  # noqa: E402

METRICS = ("accuracy", "train_accuracy", "overall_connectivity", "learn_seconds",
           "learn_cpu_seconds", "synaptic_updates", "learning_synaptic_events",
           "inference_synaptic_events", "inference_seconds", "inference_cpu_seconds",
           "spikes_per_sample")


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def main(argv=None):
    default, prune = STDPConfig(), Pruning()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "stdp.json"))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--prune-threshold", type=float, default=prune.threshold)
    parser.add_argument("--prune-interval", type=int, default=prune.interval)
    parser.add_argument("--channels", default=",".join(map(str, default.channels)))
    parser.add_argument("--epochs", default=",".join(map(str, default.max_epochs)),
                        help="epoch budget per layer")
    parser.add_argument("--timesteps", type=int, default=default.timesteps)
    parser.add_argument("--dog", action="store_true", help="DoG ON/OFF filtering first")
    parser.add_argument("--lava-samples", type=int, default=20,
                        help="test samples of the seed-0 pruned network run on Lava (0: skip)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    channels = tuple(int(c) for c in args.channels.split(","))
    config = dataclasses.replace(default, channels=channels, max_epochs=_floats(args.epochs),
                                 timesteps=args.timesteps, dog=args.dog)
    variants = {True: dataclasses.replace(config, pruning=Pruning(args.prune_threshold,
                                                                   args.prune_interval)),
                False: dataclasses.replace(config, pruning=Pruning(threshold=0.0))}
    data = load_images(args.dataset, args.data_dir)
    runs: dict[bool, list] = {True: [], False: []}
    start = time.perf_counter()
    kept = None
    for seed in range(args.seeds):
        for pruning, cfg in variants.items():
            r = run_stdp(cfg, seed=seed, data=data)
            runs[pruning].append(r.metrics())
            if pruning and seed == 0:
                kept = r
            print(f"seed {seed} pruning={pruning}: accuracy {r.accuracy:.4f}, connectivity "
                  f"{r.overall_connectivity:.3f}, learn {r.learning.seconds:.1f} s, "
                  f"{r.learning.updates:,} updates, {r.inference_events:.0f} events/sample",
                  flush=True)
    records = []
    for pruning, ms in runs.items():
        rec = {"pruning": pruning,
               "prune_threshold": args.prune_threshold if pruning else 0.0,
               "prune_interval": args.prune_interval if pruning else None,
               "connectivity": {name: median([m["connectivity"][name] for m in ms])
                                for name in ms[0]["connectivity"]},
               "learning_samples": [median([m["learning_samples"][k] for m in ms])
                                    for k in range(len(channels))],
               "per_seed": {key: [m[key] for m in ms] for key in METRICS}}
        rec.update({key: median([m[key] for m in ms]) for key in METRICS})
        records.append(rec)
    pruned, dense = records
    summary = {
        "connections_removed": 1 - pruned["overall_connectivity"],
        "accuracy_loss_points": 100 * (dense["accuracy"] - pruned["accuracy"]),
        "updates_ratio": dense["synaptic_updates"] / pruned["synaptic_updates"],
        "inference_events_ratio": (dense["inference_synaptic_events"]
                                   / pruned["inference_synaptic_events"]),
        "learn_seconds_ratio": dense["learn_seconds"] / pruned["learn_seconds"],
        "learn_cpu_seconds_ratio": dense["learn_cpu_seconds"] / pruned["learn_cpu_seconds"],
        "inference_seconds_ratio": dense["inference_seconds"] / pruned["inference_seconds"],
        "inference_cpu_seconds_ratio": (dense["inference_cpu_seconds"]
                                        / pruned["inference_cpu_seconds"]),
    }
    summary["targets_met"] = {
        "connections_removed >= 0.8": summary["connections_removed"] >= 0.8,
        "accuracy_loss_points <= 1": summary["accuracy_loss_points"] <= 1.0,
        "updates_ratio >= 1.5": summary["updates_ratio"] >= 1.5,
        "inference_events_ratio >= 2": summary["inference_events_ratio"] >= 2.0,
    }
    payload = {"dataset": args.dataset, "seeds": args.seeds, "config": config.as_dict(),
               "summary": summary, "records": records}
    if args.lava_samples and kept is not None:
        payload["lava"] = _lava_check(kept, data, args.lava_samples)
    payload["seconds"] = time.perf_counter() - start
    path = write_result(args.out, "stdp", payload)
    print(" ".join(f"{k} {v:.3f}" for k, v in summary.items() if isinstance(v, float)))
    print(f"wrote {path}")


def _lava_check(result, data, n: int) -> dict:
    from leanspike.adapters.lava.ttfs import run_ttfs, verify_ttfs
    from leanspike.stdp.readout import spike_features

    x = encode(data[2][:n], result.config)
    lava = run_ttfs(result.network, x)
    report = verify_ttfs(result.network, x, lava)
    predicted = result.readout.predict(spike_features(lava.output, result.config.timesteps))
    return {"samples": len(x), "exact": report.exact, "layers": report.layers,
            "accuracy": float((predicted == data[3][:len(x)].numpy()).mean()),
            "samples_per_s": lava.samples_per_s}


if __name__ == "__main__":
    main()
