"""Surrogate gradients measured relative to the threshold, as the conversion papers define them.

snnTorch's surrogates see only ``mem - threshold``; the papers' windows are in units of the
threshold (z = u / V_th - 1), which matters once thresholds are trained and differ by layer:

- ``rectangular`` (Datta & Beerel): ds/dz = 1 where |z| < 1
- ``triangular`` (IIR-SNN, Rathi & Roy): ds/dz = 0.3 * max(0, 1 - |z|)

The forward pass is exactly the spec's ``mem > threshold``.
"""

from __future__ import annotations

import torch

SURROGATES = ("rectangular", "triangular")


class _ThresholdRelativeSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mem, threshold, kind: str, scale: float):
        ctx.save_for_backward(mem, threshold)
        ctx.kind, ctx.scale = kind, scale
        return (mem > threshold).to(mem.dtype)

    @staticmethod
    def backward(ctx, grad):
        mem, threshold = ctx.saved_tensors
        z = mem / threshold - 1.0
        if ctx.kind == "rectangular":
            h = (z.abs() < 1.0).to(mem.dtype)
        else:
            h = torch.clamp(1.0 - z.abs(), min=0.0)
        h = h * ctx.scale
        grad_mem = grad * h / threshold
        grad_threshold = None
        if ctx.needs_input_grad[1]:
            grad_threshold = (-grad * h * mem / threshold**2).sum_to_size(threshold.shape)
        return grad_mem, grad_threshold, None, None


def threshold_relative_spike(mem: torch.Tensor, threshold: torch.Tensor, kind: str,
                             scale: float | None = None) -> torch.Tensor:
    if kind not in SURROGATES:
        raise ValueError(f"unknown surrogate {kind!r}; choose from {SURROGATES} or pass an "
                         f"snnTorch spike_grad")
    if scale is None:
        scale = 1.0 if kind == "rectangular" else 0.3
    return _ThresholdRelativeSpike.apply(mem, threshold, kind, float(scale))
