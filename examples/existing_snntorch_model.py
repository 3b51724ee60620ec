"""A model written the usual snnTorch way, retrained to T=1, pruned and run on Lava, unchanged.

    python examples/existing_snntorch_model.py [--epochs 20]

The network below is plain snnTorch: ``nn.Sequential`` of torch layers and ``snn.Leaky``
neurons. leanspike adopts it as it is (same modules, the spec's reset semantics), trains it at
T=4 and retrains it down to T=1 (IIR), prunes 90% of its synapses with Grad R, and runs the
result on Lava, comparing every spike with the snnTorch model.
"""

from __future__ import annotations

import argparse

import snntorch as snn
import torch
from torch import nn

from leanspike.adapters.snntorch import prune, retrain
from leanspike.data import load_dataset


def my_snntorch_model(beta: float = 0.9) -> nn.Sequential:
    """What a snnTorch user already has: layers and Leaky neurons in a Sequential."""
    grad = snn.surrogate.fast_sigmoid()
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 128), snn.Leaky(beta=beta, threshold=1.0, spike_grad=grad, init_hidden=True),
        nn.Linear(128, 64), snn.Leaky(beta=beta, threshold=1.0, spike_grad=grad, init_hidden=True),
        nn.Linear(64, 10), snn.Leaky(beta=beta, reset_mechanism="none", init_hidden=True,
                                     output=True),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per IIR stage")
    parser.add_argument("--prune-epochs", type=int, default=30)
    parser.add_argument("--lava-samples", type=int, default=100)
    args = parser.parse_args(argv)

    splits = load_dataset("digits")
    torch.manual_seed(0)
    model = my_snntorch_model()
    # IIR: train at T=4, then initialise each shorter T from the longer one and retrain.
    retrained = retrain(model, splits.train, splits.test, schedule=(4, 2, 1),
                        epochs_per_stage=args.epochs, progress=False)
    for s in retrained.stages:
        print(f"T={s.timesteps}: accuracy {s.accuracy:.4f}, {s.spikes_per_inference:.0f} "
              f"spikes per inference")
    pruned = prune(retrained.network, splits.train, splits.test, method="gradr",
                   target_sparsity=0.9, epochs=args.prune_epochs, progress=False)
    print(f"pruned with Grad R: {pruned.sparsity:.1%} of synapses removed, accuracy "
          f"{pruned.accuracy:.4f} (dense {pruned.dense_accuracy:.4f})")

    from leanspike.adapters.lava import run, verify  # the lava extra, Python 3.10

    x = torch.stack([splits.test[i][0] for i in range(args.lava_samples)])
    y = torch.tensor([splits.test[i][1] for i in range(args.lava_samples)])
    report = verify(pruned.spec, x)
    print(report)
    on_lava = run(pruned.spec, x, "lava-float")
    accuracy = float((on_lava.predictions == y).float().mean())
    print(f"on Lava: accuracy {accuracy:.4f} on {len(x)} test samples, "
          f"{on_lava.samples_per_s:.0f} samples/s")
    return retrained, pruned, report


if __name__ == "__main__":
    main()
