"""A registry entry to the lava-dl netx HDF5 file that the Loihi 2 toolchain loads.

    python examples/export_to_loihi.py REF --registry runs/registry --out runs/loihi

REF is any SNN entry (``digits-small-cnn@quantised``, ``name:3``, ...). The network is moved to
Loihi 2 fixed point (input encoding from the training set), written as netx HDF5 (needs only
h5py), loaded back by lava-dl's own ``netx.hdf5.Network`` and run on Lava's CPU simulator to
check that it reproduces the fixed-point network. Without REF a small network is converted and
registered first, so the script runs on its own.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch

from leanspike.adapters.netx import NetxApproximationWarning, write_netx
from leanspike.data import load_dataset
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.registry import Registry


def _example_entry(registry: Registry, epochs: int):
    """Convert a small ANN at T=1 and register it (what a user would already have)."""
    from leanspike.adapters.snntorch import convert
    from leanspike.training import TrainConfig, set_seed, train_ann
    from leanspike.zoo import create_model

    splits = load_dataset("digits")
    set_seed(0)
    ann = create_model("small_cnn", activation="clip")
    train_ann(ann, splits, TrainConfig(epochs=epochs), progress=False)
    outcome = convert(ann, splits, method="datta", timesteps=1, finetune_epochs=2,
                      progress=False)
    return registry.register("loihi-example", outcome.spec, metrics=outcome.metrics())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", nargs="?", help="registry reference of an SNN entry")
    parser.add_argument("--registry", default="runs/registry")
    parser.add_argument("--out", default="runs/loihi")
    parser.add_argument("--check-samples", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20, help="for the example entry only")
    args = parser.parse_args(argv)

    registry = Registry(args.registry)
    entry = registry.get(args.ref) if args.ref else _example_entry(registry, args.epochs)
    spec = registry.load(entry)
    splits = load_dataset("digits")
    x_train = torch.stack([splits.train[i][0] for i in range(len(splits.train))])
    fixed = quantize(to_stages(spec), x_train, timesteps=spec.timesteps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NetxApproximationWarning)
        path = write_netx(fixed, Path(args.out) / f"{entry.name}-{entry.version}.net")
    for w in caught:
        print(f"note: {w.message}")
    print(f"wrote {path} ({path.stat().st_size:,} bytes) from {entry.ref}")

    from leanspike.adapters.lava.netx_run import run_netx  # the lava extra, Python 3.10

    x = torch.stack([splits.test[i][0] for i in range(args.check_samples)])
    got = run_netx(path, x)
    _, raw = emulate_fixed(fixed, x)
    same = float((got.raw_output == raw).flatten(1).all(1).float().mean())
    print(f"lava-dl's netx Network reproduces the fixed-point network on {same:.0%} of "
          f"{len(x)} test samples ({got.samples_per_s:.0f} samples/s)")
    return path, same


if __name__ == "__main__":
    main()
