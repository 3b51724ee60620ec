"""Fixed point in the training loop: what the Loihi 2 fixed point costs with and without it.

    python benchmarks/qat.py [--dataset digits|mnist5k] [--seeds 3]
                             [--out benchmarks/results/qat-DATASET.json]

Per seed, ``leanspike pipeline`` (a fresh registry) trains the ANN, converts it at T=2 and
IIR-retrains it to T=1; both networks (``converted`` at T=2, ``retrained`` at T=1) then go
through three deployments, each measured on the whole test set in Loihi 2 fixed point (the
torch emulation, bit-exact with Lava):
1. ``snapped``: snapped to fixed point as they are (the pipeline's own ``quantised`` stage);
2. ``qat``: ``fine_tune_fixed_point`` (each weighted layer put on the 8-bit grid in turn, from
   the input up, ``--epochs-per-layer`` epochs of BPTT after each, ``--final-epochs`` more at
   the end), then snapped;
3. ``control``: the same number of epochs of plain float fine-tuning, then snapped, so that
   what the grid buys is told apart from what more training buys.
Recorded: float accuracy before, fixed-point accuracy of each, the fraction of test samples
whose fixed-point prediction equals the float network's, and for ``qat`` the prediction
agreement on Lava (``lava-fixed``) with its snnTorch twin on ``--lava-samples`` samples.
Medians over seeds; ``python benchmarks/report.py`` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import RESULTS, median, write_result  # noqa: E402

from leanspike.adapters.snntorch import (  # noqa: E402
    FinetuneConfig,
    evaluate_snn,
    finetune,
    to_snntorch,
    to_spec,
)
from leanspike.adapters.snntorch.quantisation import fine_tune_fixed_point  # noqa: E402
from leanspike.app.pipeline import load_config, run_pipeline  # noqa: E402
from leanspike.data import load_dataset  # noqa: E402
from leanspike.loihi import emulate_fixed, snap_to_fixed_point  # noqa: E402
from leanspike.registry import Registry  # noqa: E402

ARCH = {"digits": "small_cnn", "mnist5k": "mnist_cnn"}
INPUT_BITS = {"digits": 8, "mnist5k": 9}  # each encodes its grey levels exactly


def settings(args, seed: int) -> dict:
    return {"dataset": args.dataset, "arch": ARCH[args.dataset], "seed": seed,
            "ann": {"epochs": args.ann_epochs, "reference_relu": False},
            "convert": {"timesteps": 2, "finetune_epochs": args.finetune_epochs},
            "retrain": {"schedule": [1], "epochs_per_stage": args.retrain_epochs},
            "prune": {"epochs": 1, "sweep": []}, "deploy": {"limit": 1}}


def fixed_point(spec, splits, bits: int) -> tuple[float, torch.Tensor]:
    """(accuracy, predictions) of ``spec`` snapped to fixed point, emulated on the test set."""
    _, fixed = snap_to_fixed_point(spec, splits.train.tensors[0], input_bits=bits)
    x, y = splits.test.tensors
    out, _ = emulate_fixed(fixed, x)
    predictions = out.output.argmax(1)
    return float((predictions == y).float().mean()), predictions


def float_predictions(spec, splits) -> torch.Tensor:
    with torch.no_grad():
        return to_snntorch(spec).eval().run(splits.test.tensors[0]).logits.argmax(1)


def lava_agreement(spec, splits, bits: int, samples: int) -> float:
    from leanspike.adapters.lava import prepare, run  # the lava extra, Python 3.10
    from leanspike.loihi import quantize, to_stages

    snapped, _ = snap_to_fixed_point(spec, splits.train.tensors[0], input_bits=bits)
    fixed = quantize(to_stages(snapped), splits.train.tensors[0], timesteps=snapped.timesteps,
                     input_bits=bits)
    x = splits.test.tensors[0][:samples]
    result = run(snapped, x, "lava-fixed", deployed=prepare(snapped, fixed=True,
                                                             fixed_network=fixed))
    with torch.no_grad():
        twin = to_snntorch(snapped).eval().run(x).logits.argmax(1)
    return float((result.predictions == twin).float().mean())


def measure(spec, splits, args, seed: int) -> dict:
    bits = INPUT_BITS[args.dataset]
    x, y = splits.test.tensors
    float_pred = float_predictions(spec, splits)
    record = {"T": spec.timesteps, "float": float((float_pred == y).float().mean())}
    record["snapped"], pred = fixed_point(spec, splits, bits)
    record["snapped_agreement"] = float((pred == float_pred).float().mean())
    start = time.perf_counter()
    qat = fine_tune_fixed_point(spec, splits.train, splits.test, input_bits=bits,
                                epochs_per_layer=args.epochs_per_layer,
                                final_epochs=args.final_epochs, lr=args.lr, seed=seed,
                                progress=False)
    record["qat_seconds"] = time.perf_counter() - start
    record["qat"], pred = fixed_point(to_spec(qat.network), splits, bits)
    record["qat_agreement"] = float((pred == float_pred).float().mean())
    epochs = args.epochs_per_layer * len(qat.phases) + args.final_epochs
    control = to_snntorch(copy.deepcopy(spec))
    finetune(control, splits.train, FinetuneConfig(epochs=epochs, lr=args.lr, seed=seed,
                                                   amsgrad=True, relative_threshold_lr=True),
             progress=False)
    record["control_float"] = evaluate_snn(control, splits.test).accuracy
    record["control"], _ = fixed_point(to_spec(control), splits, bits)
    record["epochs"] = epochs
    if args.lava_samples:
        record["qat_lava_agreement"] = lava_agreement(to_spec(qat.network), splits, bits,
                                                      args.lava_samples)
    return record


def run_seed(args, seed: int) -> list[dict]:
    config = load_config(overrides=settings(args, seed))
    splits = load_dataset(args.dataset)
    with tempfile.TemporaryDirectory() as folder:
        registry = Registry(Path(folder) / "registry")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run_pipeline(config, registry, progress=False, log=lambda line: None)
        specs = [registry.load(registry.list(name=config.run_name, stage=stage)[-1])
                 for stage in ("converted", "retrained")]
    records = []
    for spec in specs:
        record = {"seed": seed, **measure(spec, splits, args, seed)}
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                                           if isinstance(v, float)), flush=True)
        records.append(record)
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=ARCH, default="digits")
    parser.add_argument("--out")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ann-epochs", type=int, default=30)
    parser.add_argument("--finetune-epochs", type=int, default=8, help="at T=2")
    parser.add_argument("--retrain-epochs", type=int, default=10, help="IIR, at T=1")
    parser.add_argument("--epochs-per-layer", type=int, default=2)
    parser.add_argument("--final-epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--lava-samples", type=int, default=100)
    args = parser.parse_args(argv)
    out = args.out or str(RESULTS / f"qat-{args.dataset}.json")
    load_start = os.getloadavg()[0]
    records = [r for seed in range(args.seeds) for r in run_seed(args, seed)]
    keys = [k for k, v in records[0].items() if isinstance(v, float)]
    summary = [{"T": T, **{f"{k}_median": median([r[k] for r in records if r["T"] == T])
                           for k in keys}}
               for T in sorted({r["T"] for r in records}, reverse=True)]
    path = write_result(out, "qat", {
        "dataset": args.dataset, "arch": ARCH[args.dataset], "seeds": args.seeds,
        "input_bits": INPUT_BITS[args.dataset], "settings": {
            k: getattr(args, k) for k in ("ann_epochs", "finetune_epochs", "retrain_epochs",
                                          "epochs_per_layer", "final_epochs", "lr")},
        "records": records, "summary": summary,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]}})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
