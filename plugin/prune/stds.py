"""Sparse training with a growing soft threshold, after STDS (Chen et al., ICML 2022).

Each rewired weight is a soft-thresholded hidden parameter, w = sign(theta) * relu(|theta| - d):
a synapse exists while |theta| > d, and the threshold d grows during training so that more and
more synapses fall under it. The gradient passes the threshold unchanged (dL/dtheta := dL/dw,
the paper's "stmod" pseudo-derivative), so a synapse under the threshold keeps learning and
comes back when |theta| outgrows d. theta starts at w0; the update is Adam's.

The paper grows d by a fixed schedule and the sparsity follows; here d is steered to a target:
after every step d becomes the |theta| quantile at the planned sparsity (the same cubic ramp as
Grad R's automatic alpha), and it never shrinks. With ``layer_sparsity`` every rewired tensor has
its own threshold and target; otherwise one threshold serves all, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune.rewiring import RewiringOptimizer


class STDS(RewiringOptimizer):
    """Soft-threshold rewiring for ``rewired`` weights and Adam for ``others``; ``total_steps``
    (the ``step()`` calls planned) paces the threshold to ``target_sparsity`` over the first
    ``ramp`` fraction of them."""

    def __init__(self, rewired: Iterable[nn.Parameter], others: Iterable[nn.Parameter] = (), *,
                 lr: float = 1e-3, target_sparsity: float = 0.95, total_steps: int,
                 ramp: float = 0.7, layer_sparsity: Sequence[float] | None = None,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if not 0 <= target_sparsity < 1:
            raise ConfigError(f"target_sparsity must be in [0, 1), got {target_sparsity}")
        if not total_steps or total_steps < 1:
            raise ConfigError("STDS needs total_steps (the number of optimiser steps planned) "
                              "to pace the threshold")
        super().__init__(rewired, others, target_sparsity=target_sparsity, lr=lr, betas=betas,
                         eps=eps, total_steps=total_steps, ramp=ramp)
        rewired = self._rewired()
        if layer_sparsity is None:
            self.thresholds = [_Threshold(list(range(len(rewired))), self.target)]
        else:
            layer_sparsity = self._check_layer_sparsity(layer_sparsity, len(rewired))
            self.thresholds = [_Threshold([i], x) for i, x in enumerate(layer_sparsity)]
        for i, p in enumerate(rewired):
            st = self.state[p]
            st["theta"] = p.detach().clone()
            st["threshold"] = next(k for k, t in enumerate(self.thresholds) if i in t.members)

    @property
    def d(self) -> float:
        """The (largest) threshold."""
        return max(t.d for t in self.thresholds)

    def _extra_state(self) -> dict:
        return {**super()._extra_state(),
                "thresholds": [asdict(t) for t in self.thresholds]}

    def _load_extra_state(self, extra: dict) -> None:
        super()._load_extra_state(extra)
        self.thresholds = [_Threshold(**t) for t in extra["thresholds"]]

    def _alive(self, p: nn.Parameter) -> torch.Tensor:
        st = self.state[p]
        return st["theta"].abs() > self.thresholds[st["threshold"]].d

    def _live(self) -> list[torch.Tensor]:
        return [self._alive(p).to(p.dtype) for p in self._rewired()]

    def _scores(self) -> list[torch.Tensor]:
        return [self.state[p]["theta"].abs() for p in self._rewired()]

    def _layer_targets(self) -> list[tuple[int, float]] | None:
        if len(self.thresholds) == 1:
            return None
        return [(t.members[0], t.target) for t in self.thresholds]

    @torch.no_grad()
    def _grow_thresholds(self) -> None:
        params = self._rewired()
        for t in self.thresholds:
            mags = torch.cat([self.state[params[i]]["theta"].abs().flatten() for i in t.members])
            k = int(math.floor(self.planned_sparsity(t.target) * mags.numel()))
            if k > 0:
                t.d = max(t.d, float(torch.kthvalue(mags, k).values))

    def _update(self) -> None:
        """One STDS step: Adam on theta, the threshold grown, the weights soft-thresholded."""
        before = {id(p): self._alive(p) for p in self._rewired()}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = self._adam_update(p, p.grad, group)
                (self.state[p]["theta"] if group["rewire"] else p).sub_(update)
        self._grow_thresholds()
        for p in self._rewired():
            st = self.state[p]
            d = self.thresholds[st["threshold"]].d
            self._record(before[id(p)], self._alive(p))
            p.copy_(torch.sign(st["theta"]) * torch.relu(st["theta"].abs() - d))


@dataclass
class _Threshold:
    """One soft threshold: its members (indices of rewired weights), the sparsity it is steered
    to, and its value d (it only grows)."""

    members: list[int]
    target: float
    d: float = 0.0
