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

How sparse the result ends up depends on alpha and the length of training. With
``alpha="auto"`` (the default) alpha is adjusted as training goes so that the connectivity
follows a ramp to the target over the first ``ramp`` fraction of the expected steps; that is
this implementation's addition to the paper, which tunes alpha by hand per target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from leanspike.errors import ConfigError

ALIVE = 1e-10  # the paper's connectivity criterion: |w| >= 1e-10


class GradR(torch.optim.Optimizer):
    """Grad R for ``rewired`` weights and Adam for ``others``.

    ``total_steps`` (the number of ``step()`` calls planned) paces the automatic alpha.
    ``noise`` adds the paper's optional Langevin noise sqrt(2 lr T) N(0, 1) to theta (off).
    """

    def __init__(self, rewired: Iterable[nn.Parameter], others: Iterable[nn.Parameter] = (), *,
                 lr: float = 1e-3, target_sparsity: float = 0.95,
                 alpha: float | str = "auto", total_steps: int | None = None,
                 ramp: float = 0.7, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 noise: float = 0.0, seed: int = 0):
        if not 0.5 <= target_sparsity < 1:
            raise ConfigError(f"target_sparsity must be in [0.5, 1) (the prior's centre "
                              f"ln(2(1-p))/alpha needs p >= 0.5), got {target_sparsity}")
        if alpha != "auto" and not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ConfigError(f"alpha must be a positive number or 'auto', got {alpha!r}")
        if alpha == "auto" and not total_steps:
            raise ConfigError("alpha='auto' needs total_steps (the number of optimiser steps "
                              "planned) to pace the sparsity ramp")
        rewired = list(rewired)
        if not rewired:
            raise ConfigError("GradR needs at least one weight to rewire")
        groups = [{"params": rewired, "rewire": True}]
        others = [p for p in others if all(p is not q for q in rewired)]
        if others:
            groups.append({"params": others, "rewire": False})
        super().__init__(groups, dict(lr=lr, betas=betas, eps=eps))
        self.target = float(target_sparsity)
        self.auto = alpha == "auto"
        self.alpha = 0.1 if self.auto else float(alpha)
        self.total_steps = total_steps
        self.ramp = ramp
        self.gain = 2.0
        # Adam moves theta by about lr per step; a prior stronger than that (alpha > 1) would
        # make regrowth impossible and the sparsity overshoot, so the automatic alpha stops there
        self.max_alpha = 1.0
        self.noise = noise
        self.steps = 0
        self.pruned_events = 0
        self.regrown_events = 0
        gen = torch.Generator().manual_seed(seed)
        for p in rewired:
            st = self.state[p]
            w = p.detach()
            sign = torch.sign(w)
            zero = sign == 0  # a weight that starts at zero gets a random sign so it can grow
            if zero.any():
                rnd = torch.randint(0, 2, w.shape, generator=gen).to(w) * 2 - 1
                sign = torch.where(zero, rnd, sign)
            st["sign"] = sign
            st["theta"] = w.abs().clone()

    @property
    def mu(self) -> float:
        return math.log(2 * (1 - self.target)) / self.alpha

    def _rewired(self) -> list[nn.Parameter]:
        return [p for g in self.param_groups if g["rewire"] for p in g["params"]]

    def sparsity(self) -> float:
        alive = total = 0
        for p in self._rewired():
            alive += int((self.state[p]["theta"] > 0).sum())
            total += p.numel()
        return 1 - alive / total

    def _adapt_alpha(self) -> None:
        """Multiplicative control: alpha grows while the sparsity lags the ramp, shrinks while
        it leads (a 1-point gap changes alpha by ~2% per step)."""
        progress = min(1.0, self.steps / max(1, self.ramp * self.total_steps))
        gap = self.target * progress - self.sparsity()
        self.alpha = min(self.max_alpha, max(1e-4, self.alpha * math.exp(self.gain * gap)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.steps += 1
        if self.auto:
            self._adapt_alpha()
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                g = p.grad * st["sign"] if group["rewire"] else p.grad
                if "m" not in st:
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.zeros_like(p)
                    st["t"] = 0
                st["t"] += 1
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"] / (1 - b2 ** st["t"])
                update = lr * m_hat / (v_hat.sqrt() + eps)
                if not group["rewire"]:
                    p.sub_(update)
                    continue
                theta = st["theta"]
                alive_before = theta > 0
                theta.sub_(update)
                theta.sub_(lr * self.alpha * torch.sign(theta - self.mu))
                if self.noise:
                    theta.add_(torch.randn_like(theta) * math.sqrt(2 * lr * self.noise))
                alive_after = theta > 0
                self.pruned_events += int((alive_before & ~alive_after).sum())
                self.regrown_events += int((~alive_before & alive_after).sum())
                p.copy_(st["sign"] * torch.relu(theta))
        return loss

    def pop_events(self) -> tuple[int, int]:
        """(synapses pruned, synapses regrown) since the last call."""
        out = (self.pruned_events, self.regrown_events)
        self.pruned_events = self.regrown_events = 0
        return out

    def masks(self, at_least: float | None = None) -> list[torch.Tensor]:
        """0/1 masks of the live synapses, one per rewired weight. With ``at_least``, if fewer
        synapses than that fraction are pruned, the live ones with the smallest theta are cut
        too (a final projection onto the target; Grad R's own dynamics can lag it)."""
        params = self._rewired()
        masks = [(self.state[p]["theta"] > 0).to(p.dtype) for p in params]
        if at_least is None:
            return masks
        total = sum(m.numel() for m in masks)
        excess = int(sum(m.sum() for m in masks)) - (total - int(round(at_least * total)))
        if excess <= 0:
            return masks
        thetas = torch.cat([self.state[p]["theta"].flatten() for p in params])
        alive = torch.cat([m.flatten() for m in masks]).bool()
        candidates = torch.where(alive, thetas, torch.full_like(thetas, float("inf")))
        cut = torch.topk(candidates, excess, largest=False).indices
        flat = torch.cat([m.flatten() for m in masks])
        flat[cut] = 0
        return [chunk.view_as(m) for chunk, m in
                zip(torch.split(flat, [m.numel() for m in masks]), masks, strict=True)]
