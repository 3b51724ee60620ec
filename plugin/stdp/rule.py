"""The simplified STDP rule, its learning-rate schedule, the convergence measure, and
connection pruning during learning.

Kheradpisheh et al. (2018)'s rule ignores the exact spike-time difference: for a winner neuron
that fired at t_post, each of its synapses moves by

    dw = a_plus  * w * (1 - w)   if the presynaptic neuron fired at t_pre <= t_post
    dw = a_minus * w * (1 - w)   otherwise (fired later, or not at all)

The factor w(1 - w) is a soft bound: weights stay inside (0, 1) and settle near 0 or 1, which
is what the convergence measure mean(w(1 - w)) watches and what makes a threshold on w a
meaningful pruning criterion. Pruning (Nguyen, Veeravalli & Fong 2021, as read in
``shared/papers/README.md`` 3b; the exact criterion is unconfirmed): every ``interval`` training
samples, a live synapse whose weight has fallen below ``threshold`` is removed for good; it
then costs neither STDP updates nor integration.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leanspike.errors import ConfigError
from leanspike.stdp.layers import in_bounds


@dataclass(frozen=True)
class STDPRule:
    """The rule's rates. The paper's starting values are a+ = 0.004, a- = -0.003; the schedule
    doubles them every ``double_every`` samples until a+ reaches ``a_plus_max`` (Kheradpisheh
    et al.'s schedule, as SpykeTorch reimplements it, keeps a-/a+ fixed)."""

    a_plus: float = 0.004
    a_minus: float = -0.003
    a_plus_max: float = 0.15
    double_every: int = 500

    def __post_init__(self) -> None:
        if not (self.a_plus > 0 and self.a_minus < 0):
            raise ConfigError(f"STDP needs a_plus > 0 and a_minus < 0, got {self.a_plus}, "
                              f"{self.a_minus}")
        if self.a_plus_max < self.a_plus or self.double_every < 1:
            raise ConfigError("a_plus_max must be >= a_plus and double_every >= 1")

    def rates(self, samples_seen: int) -> tuple[float, float]:
        """(a+, a-) after ``samples_seen`` training samples of this layer."""
        factor = 2.0 ** (samples_seen // self.double_every)
        a_plus = min(self.a_plus * factor, self.a_plus_max)
        return a_plus, a_plus * self.a_minus / self.a_plus


def stdp_delta(w: torch.Tensor, t_pre: torch.Tensor, t_post: int, a_plus: float,
               a_minus: float) -> torch.Tensor:
    """The weight change of synapses ``w`` whose presynaptic neurons fired at ``t_pre`` (same
    shape; ``NEVER`` if silent) for a postsynaptic spike at ``t_post``."""
    rate = torch.where(t_pre <= t_post, a_plus, a_minus)
    return rate * w * (1.0 - w)


def apply_stdp(weight: torch.Tensor, mask: torch.Tensor, patch: torch.Tensor, t_post: int,
               a_plus: float, a_minus: float) -> int:
    """Update one kernel ``weight`` [C, kh, kw] in place from the input ``patch`` of times
    around a winner (``layers.patch_times`` layout); only live synapses with a presynaptic
    neuron (not padding) change. Returns the number of synaptic updates applied."""
    live = mask & in_bounds(patch)
    idx = live.nonzero(as_tuple=True)
    w = weight[idx]
    weight[idx] = w + stdp_delta(w, patch[idx], t_post, a_plus, a_minus)
    return int(w.numel())


def convergence(weight: torch.Tensor) -> float:
    """Kheradpisheh et al.'s C = mean over all synapses of w(1 - w): 0 when every weight has
    settled at 0 or 1. A pruned synapse holds w = 0, so it counts as settled."""
    return float((weight * (1 - weight)).mean())


@dataclass(frozen=True)
class Pruning:
    """Connection pruning during STDP learning.

    ``threshold``: a live weight below it is removed for good. Default 0.1: with the soft
    bound a depressed weight heads to 0 ever more slowly (dw ~ a- w), and below 0.1 its
    contribution to any threshold crossing is small; the paper prunes weights heading to
    zero, it does not publish the value. ``interval``: training samples between checks
    (default 50, a check being one compare over the kernel, cheap next to the learning it
    saves). ``threshold = 0`` disables pruning.
    """

    threshold: float = 0.1
    interval: int = 50

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise ConfigError(f"pruning threshold must be in [0, 1), got {self.threshold}")
        if self.interval < 1:
            raise ConfigError(f"pruning interval must be >= 1, got {self.interval}")

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def due(self, samples_seen: int) -> bool:
        return self.enabled and samples_seen % self.interval == 0

    def select(self, weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The live synapses to remove now."""
        return mask & (weight < self.threshold)
