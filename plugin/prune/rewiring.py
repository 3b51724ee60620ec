"""What every rewiring optimiser shares (Grad R, STDS): a hidden parameter behind each pruned
weight that keeps learning while its synapse is cut, so connections can grow back.

A subclass decides what "alive" means and how the sparsity is steered; this base keeps the
rest in one place: the two parameter groups (rewired weights, plain Adam for everything else),
the Adam moments, the cubic ramp the sparsity follows, per-layer targets, the pruned/regrown
event counts, the final masks projected onto the target, and a ``state_dict`` that carries all
of it (torch's saves only ``self.state`` and the parameter groups).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune.allocation import check_layer_sparsities
from leanspike.prune.state import snapshot


class RewiringOptimizer(torch.optim.Optimizer):
    """Base of the rewiring optimisers. ``total_steps`` (the ``step()`` calls planned) paces the
    ramp to the target over its first ``ramp`` fraction."""

    def __init__(self, rewired: Iterable[nn.Parameter], others: Iterable[nn.Parameter], *,
                 target_sparsity: float, lr: float, betas: tuple[float, float], eps: float,
                 total_steps: int | None, ramp: float):
        rewired = list(rewired)
        if not rewired:
            raise ConfigError(f"{type(self).__name__} needs at least one weight to rewire")
        groups = [{"params": rewired, "rewire": True}]
        others = [p for p in others if all(p is not q for q in rewired)]
        if others:
            groups.append({"params": others, "rewire": False})
        super().__init__(groups, dict(lr=lr, betas=betas, eps=eps))
        self.target = float(target_sparsity)
        self.total_steps = total_steps
        self.ramp = ramp
        self.steps = 0
        self.pruned_events = 0
        self.regrown_events = 0

    # what a subclass defines

    def _update(self) -> None:
        """Move every parameter (the gradients are in ``p.grad``; ``steps`` already counts
        this step)."""
        raise NotImplementedError

    def _live(self) -> list[torch.Tensor]:
        """0/1 masks of the synapses alive now, one per rewired weight."""
        raise NotImplementedError

    def _scores(self) -> list[torch.Tensor]:
        """How strongly each synapse is alive (the smallest are cut first by ``masks``)."""
        raise NotImplementedError

    def _layer_targets(self) -> list[tuple[int, float]] | None:
        """(rewired weight index, its target) for per-layer targets; None for one target."""
        raise NotImplementedError

    # plain attributes a state dict carries (a subclass adds its own, and its steering)
    _state_attributes = ("target", "total_steps", "ramp", "steps", "pruned_events",
                         "regrown_events")

    def _extra_state(self) -> dict:
        """What the optimiser keeps outside ``self.state``, as plain values."""
        return {key: getattr(self, key) for key in self._state_attributes}

    def _load_extra_state(self, extra: dict) -> None:
        for key in self._state_attributes:
            setattr(self, key, extra[key])

    # shared mechanics

    def state_dict(self) -> dict:
        """torch's state (hidden parameters, signs, Adam moments, groups) and the rest (steps,
        events, ramp, steering) under ``"rewiring"``: tensors and plain values only, so
        ``torch.load(..., weights_only=True)`` reads it. A snapshot: later steps leave it as
        it was."""
        state = snapshot(super().state_dict())
        state["rewiring"] = {"kind": type(self).__name__, **snapshot(self._extra_state())}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue exactly where ``state_dict`` was taken (an optimiser built over the same
        parameters, in the same order; tensors are copied, never shared with the dict)."""
        kind = state_dict.get("rewiring", {}).get("kind")
        if kind != type(self).__name__:
            raise ConfigError(f"not a {type(self).__name__} state dict: it is "
                              f"{kind or 'a plain torch optimiser'}'s")
        state_dict = snapshot(state_dict)
        extra = state_dict.pop("rewiring")
        super().load_state_dict(state_dict)
        self._load_extra_state(extra)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.steps += 1
        self._update()
        return loss

    def _rewired(self) -> list[nn.Parameter]:
        return [p for g in self.param_groups if g["rewire"] for p in g["params"]]

    @staticmethod
    def _check_layer_sparsity(layer_sparsity: Sequence[float], count: int) -> list[float]:
        return check_layer_sparsities(layer_sparsity, count, "layer_sparsity", "rewired weights")

    def planned_sparsity(self, target: float) -> float:
        """Where the sparsity is steered after ``steps``: Zhu & Gupta's cubic ramp to the
        target over the first ``ramp`` fraction of the steps (fast while most synapses are
        redundant, slow near the target). With no ``total_steps`` there is no ramp to
        follow (a fixed alpha): the target itself."""
        if not self.total_steps:
            return target
        progress = min(1.0, self.steps / max(1, self.ramp * self.total_steps))
        return target * (1 - (1 - progress) ** 3)

    def sparsity(self) -> float:
        live = self._live()
        return 1 - sum(int(m.count_nonzero()) for m in live) / sum(m.numel() for m in live)

    def _adam_update(self, p: nn.Parameter, grad: torch.Tensor, group: dict) -> torch.Tensor:
        """Adam's step for ``p`` given ``grad`` (its moments live in the optimiser state)."""
        st = self.state[p]
        (b1, b2), eps = group["betas"], group["eps"]
        if "m" not in st:
            st["m"] = torch.zeros_like(p)
            st["v"] = torch.zeros_like(p)
            st["t"] = 0
        st["t"] += 1
        st["m"].mul_(b1).add_(grad, alpha=1 - b1)
        st["v"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = st["m"] / (1 - b1 ** st["t"])
        v_hat = st["v"] / (1 - b2 ** st["t"])
        return group["lr"] * m_hat / (v_hat.sqrt() + eps)

    def _record(self, alive_before: torch.Tensor, alive_after: torch.Tensor) -> None:
        self.pruned_events += int((alive_before & ~alive_after).sum())
        self.regrown_events += int((~alive_before & alive_after).sum())

    def pop_events(self) -> tuple[int, int]:
        """(synapses pruned, synapses regrown) since the last call."""
        out = (self.pruned_events, self.regrown_events)
        self.pruned_events = self.regrown_events = 0
        return out

    def masks(self, at_least: float | None = None) -> list[torch.Tensor]:
        """0/1 masks of the live synapses, one per rewired weight. With ``at_least``, if fewer
        synapses than that fraction are pruned, the live ones with the smallest scores are cut
        too (a final projection onto the target; the rewiring dynamics can lag it). With
        per-layer targets each layer is projected onto its own, ``at_least`` or not."""
        masks, scores = self._live(), self._scores()
        layers = self._layer_targets()
        if layers is None:
            return masks if at_least is None else project_masks(masks, scores, at_least)
        for i, target in layers:
            masks[i] = project_masks([masks[i]], [scores[i]], target)[0]
        return masks


def project_masks(masks: list[torch.Tensor], scores: list[torch.Tensor], at_least: float
                  ) -> list[torch.Tensor]:
    """Cut the live synapses with the smallest ``scores`` until at least ``at_least`` of all
    are pruned (rounded so that the measured sparsity never falls short of it)."""
    total = sum(m.numel() for m in masks)
    keep = int(math.floor((1 - at_least) * total + 1e-6))
    excess = int(sum(m.sum() for m in masks)) - keep
    if excess <= 0:
        return masks
    flat_score = torch.cat([t.flatten() for t in scores])
    flat = torch.cat([m.flatten() for m in masks])
    candidates = torch.where(flat.bool(), flat_score, torch.full_like(flat_score, float("inf")))
    flat[torch.topk(candidates, excess, largest=False).indices] = 0
    return [chunk.view_as(m) for chunk, m in
            zip(torch.split(flat, [m.numel() for m in masks]), masks, strict=True)]
