"""IIR-SNN retraining down to one time step, against two ablations at the same epoch budget.

    python benchmarks/iir.py --out benchmarks/results/iir.json [--seeds 3] [--epochs-per-stage 5]
    python benchmarks/iir.py --dataset cifar10 --arch vgg16 --data-dir DIR --device cuda

Per seed: a ReLU ANN is trained and converted with the IIR paper's method (layer-wise 90th
percentile thresholds on the partly converted SNN) at T=5. Variants, each with 5 x E epochs:

- ``iir``: retrain at 5, 4, 3, 2, 1 (E epochs per stage);
- ``direct_jump``: retrain at T=5 (E epochs), then jump straight to T=1 (4 x E epochs);
- ``direct_t1``: convert directly at T=1 and fine-tune at T=1 (5 x E epochs).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_common_arguments,
    median,
    seed_splits,
    trained_ann,
    write_result,
)

from leanspike.adapters.snntorch.retraining import retrain  # noqa: E402
from leanspike.convert import convert  # noqa: E402
from leanspike.training import resolve_device  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, "iir.json")
    parser.add_argument("--epochs-per-stage", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3, help="retraining learning rate")
    parser.add_argument("--t0", type=int, default=5)
    parser.add_argument("--plot", help="also write the accuracy/energy plot here")
    args = parser.parse_args(argv)

    device = str(resolve_device(args.device))
    E = args.epochs_per_stage
    schedule = tuple(range(args.t0, 0, -1))
    budget = E * len(schedule)
    runs: dict[tuple[str, int], list[dict]] = {}
    ann_accs = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        splits = seed_splits(args)
        ann, accuracy = trained_ann(args, splits, seed)
        ann_accs.append(accuracy)
        variants = {
            "iir": (args.t0, schedule, [E] * len(schedule)),
            "direct_jump": (args.t0, (args.t0, 1), [E, budget - E]),
            "direct_t1": (1, (1,), [budget]),
        }
        for variant, (t_convert, steps, epochs) in variants.items():
            spec, _ = convert(ann, splits.train, method="iir", timesteps=t_convert)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = retrain(spec, splits.train, splits.test, schedule=steps,
                                 epochs_per_stage=epochs, lr=args.lr, device=device, seed=seed,
                                 progress=False)
            silent = sum("spike vanishing" in str(w.message) for w in caught)
            for s in result.stages:
                runs.setdefault((variant, s.timesteps), []).append({
                    "accuracy": s.accuracy, "initial_accuracy": s.initial_accuracy,
                    "spikes_per_inference": s.spikes_per_inference,
                    "energy_ratio": s.energy_ratio, "epochs": s.epochs,
                    "firing_rates": [a.rate for a in s.activity],
                    "initial_firing_rates": [a.rate for a in s.initial_activity],
                    "spike_vanishing_warnings": silent})
            print(f"seed {seed} {variant}: " + ", ".join(
                f"T={s.timesteps} {s.accuracy:.4f}" for s in result.stages), flush=True)
    records = []
    for (variant, T), rs in runs.items():
        records.append({
            "variant": variant, "T": T,
            "accuracy": median([r["accuracy"] for r in rs]),
            "accuracies": [r["accuracy"] for r in rs],
            "initial_accuracy": median([r["initial_accuracy"] for r in rs]),
            "spikes_per_inference": median([r["spikes_per_inference"] for r in rs]),
            "energy_ratio": median([r["energy_ratio"] for r in rs]),
            "epochs": rs[0]["epochs"],
            "firing_rates": rs[0]["firing_rates"],
            "initial_firing_rates": rs[0]["initial_firing_rates"],
        })
    payload = {"dataset": args.dataset, "arch": args.arch, "seeds": args.seeds,
               "ann_epochs": args.ann_epochs, "epochs_per_stage": E, "epoch_budget": budget,
               "lr": args.lr, "ann_relu_accuracy": median(ann_accs), "ann_accuracies": ann_accs,
               "energy_model": "45nm FP32 (Horowitz 2014): MAC 4.6 pJ, AC 0.9 pJ",
               "seconds": time.perf_counter() - start, "records": records}
    path = write_result(args.out, "iir", payload)
    if args.plot:
        from leanspike.app.plots import accuracy_energy_vs_timesteps

        accuracy_energy_vs_timesteps(
            [{"label": r["variant"], "timesteps": r["T"], "accuracy": r["accuracy"],
              "energy_ratio": r["energy_ratio"]} for r in records],
            args.plot, title=f"IIR on {args.dataset}", ann_accuracy=payload["ann_relu_accuracy"])
    for r in sorted(records, key=lambda r: (r["variant"], -r["T"])):
        print(f"{r['variant']:12s} T={r['T']} accuracy {r['accuracy']:.4f} "
              f"(initialised {r['initial_accuracy']:.4f}), energy {r['energy_ratio']:.1f}x")
    print(f"ANN (ReLU) {payload['ann_relu_accuracy']:.4f}; wrote {path}")


if __name__ == "__main__":
    main()
