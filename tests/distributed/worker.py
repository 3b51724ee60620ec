"""Run by test_torchrun.py under ``torchrun --nproc-per-node 2`` (through hang_guard.py):
trains an ANN and Grad R prunes an SNN on a slice of digits, and saves what each rank ends
with (weights, masks, its training shard, the registry entry it was handed) to
OUT/rank{R}.pt for the test to compare."""

import os
import sys
from pathlib import Path

import torch
from torch.utils.data import Subset

from leanspike import distributed
from leanspike.adapters.snntorch import prune, to_snntorch
from leanspike.convert import convert
from leanspike.data import Splits, load_dataset
from leanspike.registry import Registry
from leanspike.training import TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model


def main(out: Path, registry_path: Path) -> None:
    assert distributed.init("cpu"), "expected to run under torchrun with 2 processes"
    splits = load_dataset("digits")
    small = Splits(Subset(splits.train, range(400)), Subset(splits.test, range(200)),
                   splits.info)
    set_seed(0)
    model = create_model("small_cnn", num_classes=10, input_shape=splits.info.input_shape,
                         channels=[4, 8, 8], hidden=[32])
    trained = train_ann(model, splits, TrainConfig(epochs=4, batch_size=32, device="cpu"),
                        progress=False)
    spec, _ = convert(model, small.train, method="iir", timesteps=1)
    registry = Registry(registry_path)
    pruned = prune(to_snntorch(spec), small.train, small.test, method="gradr",
                   target_sparsity=0.8, epochs=3, registry=registry, name="dist",
                   device="cpu", progress=False)
    shard = list(distributed.train_loader(small.train, 8, seed=0).sampler)
    masks = {n: b.clone() for n, b in pruned.network.named_buffers() if n.endswith("_mask")}
    try:  # a failure on rank 0 must reach rank 1 instead of leaving it waiting
        distributed.from_main(lambda: 1 / 0)
        failure = None
    except (ZeroDivisionError, distributed.DistributedError) as exc:
        failure = type(exc).__name__
    torch.save({"failure": failure,"ann": {k: v.clone() for k, v in model.state_dict().items()},
                "ann_accuracy": trained.test_accuracy, "history": trained.history,
                "masks": masks, "sparsity": pruned.sparsity, "accuracy": pruned.accuracy,
                "entry": pruned.entry_ref, "shard": shard},
               out / f"rank{distributed.rank()}.pt")
    distributed.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
    # Both ranks' results are saved: leave without the interpreter's teardown. Twice in a
    # clean-clone run one rank hung after saving (threads waiting in futexes) until the test's
    # timeout, which no run in a warm checkout reproduced; the wait is not what this tests.
    sys.stdout.flush()
    os._exit(0)
