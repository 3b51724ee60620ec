"""Convert a trained ANN into a 2-time-step SNN, fine-tune it, and register both.

    python examples/convert_ann.py --registry runs/registry

The ANN is trained with Datta & Beerel's trainable clipped ReLU, converted with their method
(thresholds and spike amplitudes fitted to each layer's pre-activations at T=2), fine-tuned with
surrogate gradients, and registered as a lineage: digits@ann -> digits@snn.
"""

from __future__ import annotations

import argparse

from leanspike.adapters.snntorch import FinetuneConfig, convert
from leanspike.data import load_dataset
from leanspike.registry import Registry
from leanspike.training import TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default="runs/registry")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--timesteps", type=int, default=2)
    args = parser.parse_args(argv)

    splits = load_dataset("digits")
    set_seed(0)
    ann = create_model("small_cnn", activation="clip")
    trained = train_ann(ann, splits, TrainConfig(epochs=args.epochs))

    outcome = convert(ann, splits, method="datta", timesteps=args.timesteps,
                      finetune_epochs=FinetuneConfig(epochs=args.finetune_epochs))
    # outcome.network is an ordinary nn.Module of snnTorch neurons: keep training it if you like.

    reg = Registry(args.registry)
    parent = reg.register("digits", ann, metrics={"accuracy": trained.test_accuracy})
    entry = reg.register("digits", outcome.spec, parent=parent, metrics=outcome.metrics(),
                         params={"method": "datta", "finetune_epochs": args.finetune_epochs})
    print(f"ANN {trained.test_accuracy:.4f} -> SNN at T={args.timesteps}: "
          f"{outcome.converted_accuracy:.4f} converted, {outcome.accuracy:.4f} fine-tuned; "
          f"{outcome.energy.ratio:.1f}x less compute energy ({outcome.energy.model.name}); "
          f"registered {parent.ref} -> {entry.ref}")
    return outcome


if __name__ == "__main__":
    main()
