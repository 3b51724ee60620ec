"""Magnitude pruning, the baseline every pruning method is compared with: remove the smallest
weights, globally or per layer, at once or gradually (Zhu & Gupta's cubic schedule) with
training in between. Masks are applied with torch's own ``torch.nn.utils.prune``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from leanspike.errors import ConfigError

SCOPES = ("global", "layer")  # one cut over all layers, or the same fraction of each


def check_sparsity(value: float) -> float:
    if not 0 <= value < 1:
        raise ConfigError(f"target sparsity must be in [0, 1), got {value}")
    return float(value)


def effective_weight(module: nn.Module) -> torch.Tensor:
    """The weight the module computes with (its pruning mask applied); recomputed here because
    torch refreshes ``module.weight`` only in the next forward pass."""
    if prune.is_pruned(module):
        return (module.weight_orig * module.weight_mask).detach()
    return module.weight.detach()


def magnitude_masks(modules: list[nn.Module], sparsity: float, *, scope: str = "global"
                    ) -> list[torch.Tensor]:
    """0/1 masks keeping the largest |w|: ``sparsity`` of all weights (global) or of each
    layer's (layer). Weights already zero count as smallest, so pruned ones stay pruned."""
    check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ConfigError(f"scope must be 'global' or 'layer', got {scope!r}")
    mags = [effective_weight(m).abs() for m in modules]
    if scope == "layer":
        masks = []
        for w in mags:
            k = int(round(sparsity * w.numel()))
            masks.append(_keep_top(w.flatten(), w.numel() - k).view_as(w))
        return masks
    flat = torch.cat([w.flatten() for w in mags])
    keep = _keep_top(flat, flat.numel() - int(round(sparsity * flat.numel())))
    chunks = torch.split(keep, [w.numel() for w in mags])
    return [chunk.view_as(w) for chunk, w in zip(chunks, mags, strict=True)]


def _keep_top(values: torch.Tensor, keep: int) -> torch.Tensor:
    mask = torch.zeros_like(values)
    if keep > 0:
        mask[torch.topk(values, keep, sorted=False).indices] = 1.0
    return mask


def apply_masks(modules: list[nn.Module], masks: list[torch.Tensor]) -> None:
    """Install (or replace) each module's pruning mask, torch-style (weight_orig * weight_mask)."""
    for m, mask in zip(modules, masks, strict=True):
        if prune.is_pruned(m):
            orig = m.weight_orig.detach() * m.weight_mask
            prune.remove(m, "weight")
            with torch.no_grad():
                m.weight.copy_(orig)
        prune.custom_from_mask(m, "weight", mask.to(m.weight.dtype))


def cubic_schedule(step: int, total: int, target: float, initial: float = 0.0) -> float:
    """Sparsity after ``step`` of ``total`` pruning steps (Zhu & Gupta 2017)."""
    if total <= 0 or step >= total:
        return target
    return target + (initial - target) * (1 - step / total) ** 3
