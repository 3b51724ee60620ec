"""Training on several processes (``torchrun --nproc-per-node N``): data parallel, one writer.

Every process runs the same code on its shard of the training set (``train_loader``) and
DistributedDataParallel (``wrap``) averages the gradients before each optimiser step, so every
process holds the same weights, masks and optimiser state after it. Anything with a side effect
(registry entries, run folders, Lava runs) happens on rank 0 only (``from_main``), and its
result is handed to the others, so they carry on from the same entry.

Without torchrun's environment (or with one process) every function here is a no-op: the
training loops call them unconditionally.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from leanspike.errors import LeanspikeError

T = TypeVar("T")
WAIT = datetime.timedelta(hours=2)  # how long a rank waits for the others (or for rank 0)


class DistributedError(LeanspikeError):
    """Rank 0 failed in a step the other ranks were waiting for."""


def launched() -> bool:
    """True when torchrun (or any launcher setting WORLD_SIZE > 1) started this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True when this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init(device: str = "auto") -> bool:
    """Join torchrun's process group (env:// rendezvous: RANK, WORLD_SIZE, MASTER_ADDR, ...):
    NCCL with this process on cuda:LOCAL_RANK when CUDA is used, else gloo. Returns whether
    training is distributed; nothing happens outside torchrun or with one process."""
    if active():
        return True
    if not launched():
        return False
    use_cuda = str(device) != "cpu" and torch.cuda.is_available()
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise LeanspikeError(f"device {device!r} requested but CUDA is not available here")
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    # long: the other ranks wait in a collective while rank 0 alone runs Lava
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=WAIT)
    return True


def shutdown() -> None:
    """Leave the process group (after the last collective), all ranks together: a rank that
    tears gloo down while the other still talks to it can leave that one waiting forever."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes (registry, run folder) and prints."""
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def from_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and return its (picklable) result on every rank; the others
    wait for it. A failure on rank 0 fails every rank instead of leaving them waiting."""
    if not active():
        return fn()
    box: list = [None]
    error = None
    if is_main():
        try:
            box[0] = ("ok", fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the others
            error = exc
            box[0] = ("error", f"{type(exc).__name__}: {exc}")
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    status, value = box[0]
    if status == "error":
        raise DistributedError(f"rank 0 failed: {value}")
    return value


def all_sum(*values: float) -> list[float]:
    """The sums of ``values`` over all ranks (the values themselves with one process)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64,
                     device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t)
    return t.tolist()


def train_loader(dataset: Dataset, batch_size: int, *, seed: int,
                 generator: torch.Generator | None = None, **kwargs) -> DataLoader:
    """A shuffling loader over this rank's shard of ``dataset`` (DistributedSampler seeded
    with ``seed``; call ``set_epoch`` each epoch), or over all of it with one process.
    ``batch_size`` is per process."""
    if not active():
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator,
                          **kwargs)
    sampler = DistributedSampler(dataset, shuffle=True, seed=seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Reshuffle a ``train_loader``'s shards for ``epoch`` (every rank the same permutation)."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)


def wrap(module: nn.Module, **ddp_options) -> nn.Module:
    """``module`` in DistributedDataParallel when distributed (gradients averaged over ranks
    during backward), else ``module`` itself. Its parameters must already be on its device."""
    if not active():
        return module
    param = next(module.parameters(), None)
    if param is not None and param.device.type == "cuda":
        ddp_options.setdefault("device_ids", [param.device.index])
    return nn.parallel.DistributedDataParallel(module, **ddp_options)
