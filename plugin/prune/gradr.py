"""Gradient rewiring (Grad R, Chen et al. 2021) as an ordinary torch optimiser.

Each rewired weight is w = s * relu(theta) with a fixed sign s = sign(w0) and theta0 = |w0|: a
synapse exists while theta > 0. The gradient is redefined as dL/dtheta := s * dL/dw, dropping
relu's indicator, so a pruned synapse (theta <= 0) still receives gradient and can grow back.
A Laplace prior of scale ``alpha`` centred at mu = ln(2(1-p)) / alpha, for a target sparsity p,
adds -lr * alpha * sign(theta - mu) to every update and drives unneeded synapses below zero.
The update itself is Adam's, on the moments of s * dL/dw.

The model keeps ordinary weights: after every step the optimiser writes s * relu(theta) into
them, so the forward pass (and anything else) sees a plain, exactly-zero pruned weight. Other
parameters (biases, thresholds, leaks, batch norm) get plain Adam and are never pruned.

Additions to the paper (which tunes one alpha by hand per target), each measured on digits:

- ``alpha="auto"`` (the default) adjusts alpha every step so that the connectivity follows Zhu
  & Gupta's cubic ramp to the target over the first ``ramp`` fraction of the expected steps. The
  controller works on the log of the density (a 2x excess of live synapses at 99% counts as
  much as at 50%); a linear ramp with a linear-gap controller left 99% targets short and the
  last 1% was then cut in one step. alpha stays <= 1: Adam moves theta by at most about lr per
  step, so a stronger prior would stop every synapse from growing back.
- ``layer_sparsity``: one prior per layer, each with its own target, automatic alpha and
  centre, instead of one prior for all. With a single prior the survivors at 99% gather in the
  big fully connected layer; one per layer lets the caller share the synapses out (see
  ``leanspike.prune.allocation``). A layer whose target is 0 is kept whole (plain Adam).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune.rewiring import RewiringOptimizer

ALIVE = 1e-10  # the paper's connectivity criterion: |w| >= 1e-10


class GradR(RewiringOptimizer):
    """Grad R for ``rewired`` weights and Adam for ``others``.

    ``total_steps`` (the number of ``step()`` calls planned) paces the automatic alpha.
    ``layer_sparsity`` (one target per rewired weight) gives each weight tensor its own prior,
    with its own automatic alpha and centre, instead of one prior for all (see
    ``leanspike.prune.allocation`` for how the benchmark chooses them).
    ``noise`` adds the paper's optional Langevin noise sqrt(2 lr T) N(0, 1) to theta (off); it
    draws from torch's global generator, so a run resumed from ``state_dict`` repeats the
    uninterrupted one only if that generator's state is restored too.
    """

    def __init__(self, rewired: Iterable[nn.Parameter], others: Iterable[nn.Parameter] = (), *,
                 lr: float = 1e-3, target_sparsity: float = 0.95,
                 alpha: float | str = "auto", total_steps: int | None = None,
                 ramp: float = 0.7, layer_sparsity: Sequence[float] | None = None,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 noise: float = 0.0, seed: int = 0):
        if not 0.5 <= target_sparsity < 1:
            raise ConfigError(f"target_sparsity must be in [0.5, 1) (the prior's centre "
                              f"ln(2(1-p))/alpha needs p >= 0.5), got {target_sparsity}")
        if alpha != "auto" and not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ConfigError(f"alpha must be a positive number or 'auto', got {alpha!r}")
        if alpha == "auto" and not total_steps:
            raise ConfigError("alpha='auto' needs total_steps (the number of optimiser steps "
                              "planned) to pace the sparsity ramp")
        super().__init__(rewired, others, target_sparsity=target_sparsity, lr=lr, betas=betas,
                         eps=eps, total_steps=total_steps, ramp=ramp)
        rewired = self._rewired()
        self.auto = alpha == "auto"
        start = 0.1 if self.auto else float(alpha)
        self.per_layer = layer_sparsity is not None
        if layer_sparsity is None:  # one prior for every weight (the paper's)
            self.priors = [_Prior(list(range(len(rewired))), self.target, start, self.target)]
        else:
            layer_sparsity = self._check_layer_sparsity(layer_sparsity, len(rewired))
            # a layer's prior is centred by its own target, or by the global one where that
            # is higher (the centre ln(2(1-p))/alpha needs p >= 0.5; below it would sit above
            # zero and pull every pruned synapse back); a layer with target 0 is kept whole:
            # no prior, no fixed sign, plain Adam
            self.priors = [_Prior([i], x, start, max(x, self.target))
                           for i, x in enumerate(layer_sparsity) if x > 0]
        self.gain = 0.5
        # Adam moves theta by about lr per step; a prior stronger than that (alpha > 1) would
        # make regrowth impossible and the sparsity overshoot, so the automatic alpha stops there
        self.max_alpha = 1.0
        self.noise = noise
        gen = torch.Generator().manual_seed(seed)
        for i, p in enumerate(rewired):
            st = self.state[p]
            w = p.detach()
            sign = torch.sign(w)
            zero = sign == 0  # a weight that starts at zero gets a random sign so it can grow
            if zero.any():
                rnd = torch.randint(0, 2, w.shape, generator=gen).to(w) * 2 - 1
                sign = torch.where(zero, rnd, sign)
            st["sign"] = sign
            st["theta"] = w.abs().clone()
            st["prior"] = next((k for k, pr in enumerate(self.priors) if i in pr.members), None)

    @property
    def alpha(self) -> float:
        """The prior's scale (with ``layer_sparsity``: the largest of the layers')."""
        return max((pr.alpha for pr in self.priors), default=0.0)

    @property
    def alphas(self) -> list[float]:
        return [pr.alpha for pr in self.priors]

    @property
    def mu(self) -> float:
        return self.priors[0].mu

    _state_attributes = (*RewiringOptimizer._state_attributes, "auto", "per_layer", "gain",
                         "max_alpha", "noise")

    def _extra_state(self) -> dict:
        return {**super()._extra_state(), "priors": [asdict(pr) for pr in self.priors]}

    def _load_extra_state(self, extra: dict) -> None:
        super()._load_extra_state(extra)
        self.priors = [_Prior(**pr) for pr in extra["priors"]]

    def _live(self) -> list[torch.Tensor]:
        return [(self.state[p]["theta"] > 0).to(p.dtype) if self.state[p]["prior"] is not None
                else torch.ones_like(p) for p in self._rewired()]

    def _scores(self) -> list[torch.Tensor]:
        return [self.state[p]["theta"] for p in self._rewired()]

    def _layer_targets(self) -> list[tuple[int, float]] | None:
        if not self.per_layer:
            return None
        return [(pr.members[0], pr.target) for pr in self.priors]

    def _counts(self, members: list[int]) -> tuple[int, int]:
        params = self._rewired()
        alive = sum(int((self.state[params[i]]["theta"] > 0).sum())
                    if self.state[params[i]]["prior"] is not None else params[i].numel()
                    for i in members)
        return alive, sum(params[i].numel() for i in members)

    def planned_sparsity(self, target: float | None = None) -> float:
        return super().planned_sparsity(self.target if target is None else target)

    def _adapt_alpha(self) -> None:
        """Multiplicative control on the log of the density: alpha grows while more synapses
        are alive than planned and shrinks while fewer are (a 10% excess of live synapses
        raises alpha by ~``gain`` * 10% per step)."""
        for pr in self.priors:
            alive, total = self._counts(pr.members)
            density = max(alive / total, 1e-9)
            gap = math.log(density) - math.log(1 - self.planned_sparsity(pr.target))
            pr.alpha = min(self.max_alpha, max(1e-4, pr.alpha * math.exp(self.gain * gap)))

    def _update(self) -> None:
        """One Grad R step: alpha adapted, Adam on s * dL/dw, the prior's pull, relu."""
        if self.auto:
            self._adapt_alpha()
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                plain = not group["rewire"] or st["prior"] is None  # kept whole: plain Adam
                update = self._adam_update(p, p.grad if plain else p.grad * st["sign"], group)
                if plain:
                    p.sub_(update)
                    continue
                theta = st["theta"]
                alive_before = theta > 0
                theta.sub_(update)
                prior = self.priors[st["prior"]]
                theta.sub_(lr * prior.alpha * torch.sign(theta - prior.mu))
                if self.noise:
                    theta.add_(torch.randn_like(theta) * math.sqrt(2 * lr * self.noise))
                self._record(alive_before, theta > 0)
                p.copy_(st["sign"] * torch.relu(theta))


@dataclass
class _Prior:
    """One Laplace prior: its members (indices of rewired weights), the sparsity its alpha is
    steered to, its scale, and the sparsity p of its centre ln(2(1-p))/alpha."""

    members: list[int]
    target: float
    alpha: float
    centre: float

    @property
    def mu(self) -> float:
        return math.log(2 * (1 - self.centre)) / self.alpha
