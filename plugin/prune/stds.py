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

import torch
from torch import nn

from leanspike.errors import ConfigError


class STDS(torch.optim.Optimizer):
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
        rewired = list(rewired)
        if not rewired:
            raise ConfigError("STDS needs at least one weight to rewire")
        groups = [{"params": rewired, "rewire": True}]
        others = [p for p in others if all(p is not q for q in rewired)]
        if others:
            groups.append({"params": others, "rewire": False})
        super().__init__(groups, dict(lr=lr, betas=betas, eps=eps))
        self.target = float(target_sparsity)
        if layer_sparsity is None:
            self.thresholds = [_Threshold(list(range(len(rewired))), self.target)]
        else:
            if len(layer_sparsity) != len(rewired):
                raise ConfigError(f"layer_sparsity has {len(layer_sparsity)} values for "
                                  f"{len(rewired)} rewired weights")
            self.thresholds = [_Threshold([i], float(x)) for i, x in enumerate(layer_sparsity)]
        self.total_steps = total_steps
        self.ramp = ramp
        self.steps = 0
        self.pruned_events = 0
        self.regrown_events = 0
        for i, p in enumerate(rewired):
            st = self.state[p]
            st["theta"] = p.detach().clone()
            st["threshold"] = next(k for k, t in enumerate(self.thresholds) if i in t.members)

    def _rewired(self) -> list[nn.Parameter]:
        return [p for g in self.param_groups if g["rewire"] for p in g["params"]]

    @property
    def d(self) -> float:
        """The (largest) threshold."""
        return max(t.d for t in self.thresholds)

    def planned_sparsity(self, target: float) -> float:
        progress = min(1.0, self.steps / max(1, self.ramp * self.total_steps))
        return target * (1 - (1 - progress) ** 3)

    def sparsity(self) -> float:
        params = self._rewired()
        alive = sum(int(self._alive(p).sum()) for p in params)
        return 1 - alive / sum(p.numel() for p in params)

    def _alive(self, p: nn.Parameter) -> torch.Tensor:
        st = self.state[p]
        return st["theta"].abs() > self.thresholds[st["threshold"]].d

    @torch.no_grad()
    def _grow_thresholds(self) -> None:
        params = self._rewired()
        for t in self.thresholds:
            mags = torch.cat([self.state[params[i]]["theta"].abs().flatten() for i in t.members])
            k = int(math.floor(self.planned_sparsity(t.target) * mags.numel()))
            if k > 0:
                t.d = max(t.d, float(torch.kthvalue(mags, k).values))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.steps += 1
        before = {id(p): self._alive(p) for p in self._rewired()}
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "m" not in st:
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.zeros_like(p)
                    st["t"] = 0
                st["t"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"] / (1 - b2 ** st["t"])
                (st["theta"] if group["rewire"] else p).sub_(lr * m_hat / (v_hat.sqrt() + eps))
        self._grow_thresholds()
        for p in self._rewired():
            st = self.state[p]
            d = self.thresholds[st["threshold"]].d
            alive = self._alive(p)
            self.pruned_events += int((before[id(p)] & ~alive).sum())
            self.regrown_events += int((~before[id(p)] & alive).sum())
            p.copy_(torch.sign(st["theta"]) * torch.relu(st["theta"].abs() - d))
        return loss

    def pop_events(self) -> tuple[int, int]:
        """(synapses pruned, synapses regrown) since the last call."""
        out = (self.pruned_events, self.regrown_events)
        self.pruned_events = self.regrown_events = 0
        return out

    def masks(self, at_least: float | None = None) -> list[torch.Tensor]:
        """0/1 masks of the live synapses (|theta| > d), one per rewired weight; with
        ``at_least`` (or per-layer targets) the smallest survivors are cut to reach it."""
        from leanspike.prune.gradr import project_masks

        params = self._rewired()
        masks = [self._alive(p).to(p.dtype) for p in params]
        mags = [self.state[p]["theta"].abs() for p in params]
        if len(self.thresholds) == 1:
            return masks if at_least is None else project_masks(masks, mags, at_least)
        for t in self.thresholds:
            i = t.members[0]
            masks[i] = project_masks([masks[i]], [mags[i]], t.target)[0]
        return masks


class _Threshold:
    def __init__(self, members: list[int], target: float):
        self.members = members
        self.target = target
        self.d = 0.0
