"""Users' own snnTorch models through every stage: what each shape keeps of its accuracy.

    python benchmarks/adoption.py [--seeds 3] [--epochs 15] [--out benchmarks/results/adoption.json]

For each shape of ``examples/bring_your_snntorch_model.py`` (average pooling, max pooling of
currents, batch norm, the tutorial class with a time loop), per seed:
1. trained the snnTorch way at T=4 (Adam, ``ce_rate_loss``, ``utils.reset``); the accuracy the
   user measures (output spike counts);
2. adopted at T=4, read as the user reads it (output spike counts) and with leanspike's default
   integrating output layer, before any retraining;
3. IIR retraining T=4 -> 2 -> 1, accuracy at T=1, and
4. Grad R pruning to 90% at T=1, each twice: with the user's loss (``ce_rate_loss``: the output
   keeps spiking and is read by its spike counts) and with leanspike's default (an integrating
   output layer, cross-entropy);
5. Loihi 2 fixed point on Lava (``lava-fixed``) over the whole test set, with the prediction
   agreement with its snnTorch twin (the fixed-point network in float).
Medians over the seeds; ``python benchmarks/report.py`` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import snntorch.functional as SF  # noqa: E402
import torch  # noqa: E402
from common import RESULTS, median, write_result  # noqa: E402

from leanspike.adapters.snntorch import adopt, evaluate_snn, prune, retrain  # noqa: E402
from leanspike.data import load_dataset  # noqa: E402

EXAMPLE = runpy.run_path(str(HERE.parent / "examples" / "bring_your_snntorch_model.py"))


def run_shape(shape: str, seed: int, splits, args) -> dict:
    torch.manual_seed(seed)
    model = EXAMPLE["SHAPES"][shape]()
    T = EXAMPLE["num_steps"]
    start = time.perf_counter()
    users = EXAMPLE["train_the_snntorch_way"](model, splits, args.epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reset timing, pooling of currents
        by_counts = evaluate_snn(adopt(model, (1, 8, 8), T, readout="spikes"),
                                 splits.test).accuracy
        by_membrane = evaluate_snn(adopt(model, (1, 8, 8), T), splits.test).accuracy
    record = {"shape": shape, "seed": seed, "T": T, "users": users,
              "adopted_counts": by_counts, "adopted_membrane": by_membrane}
    # the rest twice: with the user's own loss (the output keeps spiking, read by its counts)
    # and with leanspike's default (an integrating output layer, cross-entropy)
    for recipe, loss in (("users_loss", SF.ce_rate_loss()), ("default", None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            retrained = retrain(model, splits.train, splits.test, schedule=(T, 2, 1),
                                epochs_per_stage=args.retrain_epochs, loss=loss, seed=seed,
                                progress=False)
        pruned = prune(retrained.network, splits.train, splits.test, target_sparsity=0.9,
                       epochs=args.prune_epochs, loss=loss, seed=seed, progress=False)
        record.update({f"{recipe}_T1": retrained.final.accuracy,
                       f"{recipe}_pruned": pruned.accuracy,
                       f"{recipe}_sparsity": pruned.sparsity,
                       f"{recipe}_synaptic_ops": pruned.synaptic_ops})
        if not args.no_lava:
            record.update({f"{recipe}_{k}": v for k, v in on_lava(pruned.spec, splits).items()})
    record["params"] = sum(int(layer.weight.numel())
                           for _, layer in pruned.spec.weighted_layers())
    record["seconds"] = time.perf_counter() - start
    print(f"{shape} seed {seed}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in record.items() if isinstance(v, float)), flush=True)
    return record


def on_lava(spec, splits) -> dict:
    from leanspike.adapters.lava import prepare, run  # the lava extra, Python 3.10
    from leanspike.adapters.snntorch import to_snntorch
    from leanspike.loihi import snap_to_fixed_point

    x_train = splits.train.tensors[0]
    x, y = splits.test.tensors
    twin, _ = snap_to_fixed_point(spec, x_train)
    deployed = prepare(twin, fixed=True, calibration=x_train)
    result = run(twin, x, "lava-fixed", deployed=deployed)
    with torch.no_grad():
        reference = to_snntorch(twin).eval().run(x).logits.argmax(1)
    return {"lava_fixed": float((result.predictions == y).float().mean()),
            "lava_agreement": float((result.predictions == reference).float().mean()),
            "lava_samples_per_s": result.samples_per_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "adoption.json"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(EXAMPLE["SHAPES"]))
    parser.add_argument("--epochs", type=int, default=15, help="the user's training epochs")
    parser.add_argument("--retrain-epochs", type=int, default=10, help="per IIR stage")
    parser.add_argument("--prune-epochs", type=int, default=60)
    parser.add_argument("--no-lava", action="store_true")
    args = parser.parse_args(argv)
    splits = load_dataset("digits")
    records = [run_shape(shape, seed, splits, args) for shape in args.shapes.split(",")
               for seed in range(args.seeds)]
    keys = [k for k, v in records[0].items() if isinstance(v, float)]
    summary = [{"shape": shape, **{f"{k}_median": median([r[k] for r in records
                                                            if r["shape"] == shape])
                                   for k in keys}}
               for shape in dict.fromkeys(r["shape"] for r in records)]
    path = write_result(args.out, "adoption", {
        "dataset": "digits", "seeds": args.seeds, "epochs": args.epochs,
        "retrain_epochs": args.retrain_epochs, "prune_epochs": args.prune_epochs,
        "records": records, "summary": summary})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
