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
