"""How a global sparsity target is shared among layers.

At a few percent of connectivity the layers of a feed-forward SNN form a chain of bottlenecks:
on digits at T=1, any one layer of small_cnn can be cut to ~120 synapses without loss when the
others stay dense, but cutting all of them compounds. One global threshold (one prior, or one
magnitude cut) leaves most survivors in the big fully connected layer and starves the small
first convolution and the classifier. ``balanced`` gives every layer the same number of
synapses instead (a layer smaller than its share stays dense and the rest is shared among the
others), so no link of the chain is much thinner than the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from leanspike.errors import ConfigError

ALLOCATIONS = ("global", "balanced")


def balanced_sparsity(sizes: Sequence[int], sparsity: float) -> list[float]:
    """Per-layer sparsities that keep ``1 - sparsity`` of all ``sizes`` weights, the same
    number in every layer (water-filling: layers smaller than the share are kept whole).
    Each layer keeps a whole number of synapses, rounded down."""
    if not 0 <= sparsity < 1:
        raise ConfigError(f"target sparsity must be in [0, 1), got {sparsity}")
    if not sizes or any(n <= 0 for n in sizes):
        raise ConfigError(f"layer sizes must be positive, got {list(sizes)}")
    budget = (1 - sparsity) * sum(sizes)
    keep = [0.0] * len(sizes)
    open_ = list(range(len(sizes)))
    while open_:
        share = budget / len(open_)
        whole = [i for i in open_ if sizes[i] <= share]
        if not whole:
            for i in open_:
                keep[i] = share
            break
        for i in whole:
            keep[i] = float(sizes[i])
            budget -= sizes[i]
            open_.remove(i)
    # whole synapses, rounded down, so that the measured sparsity is never below the target
    return [1 - math.floor(k + 1e-6) / n for k, n in zip(keep, sizes, strict=True)]


def allocate(allocation: str | Sequence[float], sizes: Sequence[int], target: float
             ) -> list[float] | None:
    """Per-layer targets for layers of ``sizes`` weights: ``"balanced"`` shares ``target`` out
    (``balanced_sparsity``), a list is each layer's own; None for ``"global"`` (one target)."""
    check_allocation(allocation)
    if allocation == "global":
        return None
    if allocation == "balanced":
        return balanced_sparsity(sizes, target)
    return check_layer_sparsities(allocation, len(sizes), "allocation", "prunable layers")


def check_layer_sparsities(values: Sequence[float], count: int, name: str, of: str
                           ) -> list[float]:
    """One sparsity in [0, 1) for each of ``count`` layers; errors say ``name`` and ``of``."""
    values = [float(x) for x in values]
    if len(values) != count:
        raise ConfigError(f"{name} has {len(values)} sparsities for {count} {of}")
    bad = [x for x in values if not 0 <= x < 1]
    if bad:
        raise ConfigError(f"{name}: a target sparsity must be in [0, 1), got {bad[0]}")
    return values


def check_allocation(allocation: str | Sequence[float]) -> str | Sequence[float]:
    """A known allocation name, or a list (checked against the layers by ``allocate``)."""
    if isinstance(allocation, str) and allocation not in ALLOCATIONS:
        raise ConfigError(f"unknown allocation {allocation!r}; choose from {ALLOCATIONS} "
                          f"or give one sparsity per prunable layer")
    return allocation
