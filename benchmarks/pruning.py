"""Pruning a low-latency SNN: Grad R against magnitude pruning, at the same epoch budget.

    python benchmarks/pruning.py --out benchmarks/results/pruning.json [--seeds 3]
    OMP_NUM_THREADS=1 python benchmarks/pruning.py --jobs 2   # 2 cores: 86 min on digits
    python benchmarks/pruning.py --methods gradr,magnitude,stds --timesteps 1
    python benchmarks/pruning.py --dataset cifar10 --arch vgg16 --data-dir DIR --device cuda

Per seed: a ReLU ANN is trained, converted with the IIR paper's method at T=5 and retrained
5,4,3,2,1 (5 epochs per stage); the T=2 and T=1 stages are the dense networks. Each is pruned to
every target sparsity with every method for the same number of epochs, with the same recipe
(allocation across layers, distillation from the dense network, learning rate and its cosine
decay; see ``leanspike.adapters.snntorch.prune``). Figures are medians over seeds;
`accuracies` holds every seed's value.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_common_arguments,
    median,
    seed_splits,
    trained_ann,
    write_result,
)

from leanspike.adapters.snntorch import prune, retrain  # noqa: E402
from leanspike.convert import convert  # noqa: E402
from leanspike.prune import DEFAULT_EPOCHS  # noqa: E402
from leanspike.training import resolve_device  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, "pruning.json", ann_epochs_flag="--ann-epochs")
    parser.add_argument("--epochs-per-stage", type=int, default=5, help="IIR retraining")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help="pruning epochs, every method (default %(default)s)")
    parser.add_argument("--lr", type=float, help="default: each method's own (see prune)")
    parser.add_argument("--allocation", default="balanced", choices=["balanced", "global"],
                        help="how the target is shared among layers (every method)")
    parser.add_argument("--distill", type=float, default=0.7,
                        help="weight of distillation from the dense network (0: labels only)")
    parser.add_argument("--sparsities", default="0.5,0.8,0.9,0.95,0.98,0.99")
    parser.add_argument("--timesteps", default="1,2")
    parser.add_argument("--methods", default="gradr,magnitude,stds")
    parser.add_argument("--plot", help="also write accuracy-against-sparsity here")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes, one torch thread each (runs are independent)")
    args = parser.parse_args(argv)
    args.device = str(resolve_device(args.device))
    sparsities = [float(s) for s in args.sparsities.split(",")]
    ts = sorted(int(t) for t in args.timesteps.split(","))
    methods = args.methods.split(",")
    tasks = [(seed, T, method, p) for seed in range(args.seeds) for T in ts
             for method in methods for p in sparsities]
    runs: dict[tuple, list[dict]] = {}
    dense: dict[tuple, float] = {}
    start = time.perf_counter()
    for (seed, T, method, p), run in _map(args, tasks):
        if dense.setdefault((seed, T), run["dense_accuracy"]) != run["dense_accuracy"]:
            raise RuntimeError(f"seed {seed}: workers trained different dense T={T} networks; "
                               "run with --jobs 1")
        runs.setdefault((method, T, p), []).append(run)
        print(f"seed {seed} T={T} {method} {p}: sparsity {run['sparsity']:.4f} "
              f"accuracy {run['accuracy']:.4f} (dense {run['dense_accuracy']:.4f})", flush=True)
    dense_by_t = {T: [dense[(seed, T)] for seed in range(args.seeds)] for T in ts}
    records = [{
        "method": method, "T": T, "target_sparsity": p,
        "sparsity": median([r["sparsity"] for r in rs]),
        "accuracy": median([r["accuracy"] for r in rs]),
        "accuracies": [r["accuracy"] for r in rs],
        "synops": median([r["synops"] for r in rs]),
        "energy_ratio": median([r["energy_ratio"] for r in rs]),
        "connectivity": rs[0]["connectivity"],
    } for (method, T, p), rs in runs.items()]
    payload = {"dataset": args.dataset, "arch": args.arch, "seeds": args.seeds,
               "epochs": args.epochs, "lr": args.lr, "allocation": args.allocation,
               "distill": args.distill, "recipe": _recipe(args),
               "dense_accuracy": {str(T): median(v) for T, v in dense_by_t.items()},
               "dense_accuracies": {str(T): v for T, v in dense_by_t.items()},
               "jobs": args.jobs,
               "energy_model": "45nm FP32 (Horowitz 2014): MAC 4.6 pJ, AC 0.9 pJ",
               "seconds": time.perf_counter() - start, "records": records}
    path = write_result(args.out, "pruning", payload)
    if args.plot:
        from leanspike.app.plots import accuracy_vs_sparsity

        accuracy_vs_sparsity([{"label": f"{r['method']} T={r['T']}", "sparsity": r["sparsity"],
                               "accuracy": r["accuracy"]} for r in records], args.plot,
                             title=f"pruning on {args.dataset}")
    print(f"wrote {path}")


def _map(args, tasks):
    """Yield (task, run) for every task, in order; with ``--jobs`` > 1 in worker processes.

    Each worker rebuilds a seed's dense chain the first time it needs it; training is
    deterministic for a seed, so every worker gets the same dense networks."""
    if args.jobs <= 1:
        yield from ((task, _run(args, task)) for task in tasks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        yield from zip(tasks, pool.map(_run, [args] * len(tasks), tasks))


_CHAINS: dict[int, tuple] = {}


def _dense_chain(args, seed: int):
    """(data splits, {T: dense retrained stage}) for one seed, built once per process. Tasks
    come seed by seed, so only the current seed's chain is kept (CIFAR's splits are large)."""
    if seed not in _CHAINS:
        _CHAINS.clear()
        splits = seed_splits(args)
        ann, _ = trained_ann(args, splits, seed)
        t0 = max(5, *(int(t) for t in args.timesteps.split(",")))
        spec, _ = convert(ann, splits.train, method="iir", timesteps=t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chain = retrain(spec, splits.train, splits.test, schedule=tuple(range(t0, 0, -1)),
                            epochs_per_stage=args.epochs_per_stage, device=args.device,
                            seed=seed, progress=False)
        _CHAINS[seed] = (splits, {s.timesteps: s for s in chain.stages})
    return _CHAINS[seed]


def _run(args, task) -> dict:
    """One pruning run: a seed's dense T-step network pruned to one target by one method."""
    seed, T, method, p = task
    splits, stages = _dense_chain(args, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = prune(stages[T].spec, splits.train, splits.test, method=method,
                  target_sparsity=p, epochs=args.epochs, lr=args.lr,
                  allocation=args.allocation, distill=args.distill,
                  device=args.device, seed=seed, progress=False)
    return {"sparsity": r.sparsity, "accuracy": r.accuracy, "synops": r.synaptic_ops,
            "energy_ratio": r.energy_ratio, "dense_accuracy": stages[T].accuracy,
            "connectivity": {c.name: c.connectivity for c in r.layers}}


def _recipe(args) -> str:
    """The settings every method shared, in words (BENCHMARKS.md prints it)."""
    from leanspike.adapters.snntorch.pruning import DEFAULT_LR

    lr = f"{args.lr:g}" if args.lr else ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items())
    share = ("every layer keeps the same number of synapses (a layer smaller than its share "
             "stays whole)" if args.allocation == "balanced" else "one global target")
    teach = (f"loss {1 - args.distill:g} cross-entropy + {args.distill:g} distillation from the "
             f"dense network at temperature 4" if args.distill else "cross-entropy on the labels")
    return (f"Every method: {args.epochs} epochs, Adam at lr {lr}, {share}, {teach}, cosine "
            f"decay over the fine-tuning epochs. Grad R: one Laplace prior per layer with "
            f"automatic alpha (cubic ramp to the target), rewiring for the first half of the "
            f"epochs, then the masks are fixed and training continues; STDS: a growing soft "
            f"threshold per layer, same schedule; magnitude: cubic ramp over 70% of the epochs.")


if __name__ == "__main__":
    main()
