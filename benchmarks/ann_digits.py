"""ANN baselines on the offline digits data: the accuracy every later stage is compared with.

    python benchmarks/ann_digits.py --out benchmarks/results/ann_digits.json [--seeds 5]

For each zoo model and conversion-friendly activation: median test accuracy and training time
over seeds (40 epochs, the CLI's defaults).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, median, write_result  # noqa: E402

from leanspike.data import load_dataset  # noqa: E402
from leanspike.training import TrainConfig, set_seed, train_ann  # noqa: E402
from leanspike.zoo import create_model  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "ann_digits.json"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--archs", default="small_cnn,mlp")
    parser.add_argument("--activations", default="relu,clip,qcfs")
    args = parser.parse_args(argv)

    records = []
    for arch in args.archs.split(","):
        for activation in args.activations.split(","):
            accs, secs = [], []
            for seed in range(args.seeds):
                splits = load_dataset("digits", seed=0)  # one fixed split; seeds vary training
                set_seed(seed)
                model = create_model(arch, activation=activation)
                result = train_ann(model, splits, TrainConfig(epochs=args.epochs, seed=seed,
                                                              device="cpu"), progress=False)
                accs.append(result.test_accuracy)
                secs.append(result.seconds)
            records.append({"arch": arch, "activation": activation, "epochs": args.epochs,
                            "seeds": args.seeds, "accuracy_median": median(accs),
                            "accuracy_min": min(accs), "accuracy_max": max(accs),
                            "train_seconds_median": median(secs), "accuracies": accs})
            print(f"{arch:10s} {activation:5s} accuracy median {median(accs):.4f} "
                  f"(min {min(accs):.4f}, max {max(accs):.4f}), {median(secs):.1f} s")
    path = write_result(args.out, "ann_digits", {"records": records})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
