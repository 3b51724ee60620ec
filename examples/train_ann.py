"""Train a conversion-friendly ANN from the zoo and save it without pickle.

    python examples/train_ann.py --epochs 40 --out runs/ann

The saved folder (model.json + model.safetensors) rebuilds the exact model with
``leanspike.zoo.load_model``; the conversion stage starts from it.
"""

from __future__ import annotations

import argparse

from leanspike.data import load_dataset
from leanspike.training import TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model, load_model, save_model


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--activation", default="clip", choices=["relu", "clip", "qcfs"])
    parser.add_argument("--out", default="runs/ann")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    splits = load_dataset("digits", seed=args.seed)
    set_seed(args.seed)
    model = create_model("small_cnn", num_classes=splits.info.num_classes,
                         input_shape=splits.info.input_shape, activation=args.activation)
    result = train_ann(model, splits, TrainConfig(epochs=args.epochs, seed=args.seed))
    save_model(model, args.out, metadata={"test_accuracy": result.test_accuracy})

    rebuilt, meta = load_model(args.out)
    print(f"{args.activation} small_cnn on digits: test accuracy {result.test_accuracy:.4f} "
          f"in {result.seconds:.1f} s; saved to {args.out} and rebuilt "
          f"({sum(p.numel() for p in rebuilt.parameters()):,} parameters)")
    return result.test_accuracy


if __name__ == "__main__":
    main()
