"""ANN activations that make a DNN convertible to a low-latency SNN.

``ClippedReLU`` is Datta & Beerel's trainable clip (the clip becomes the SNN threshold scale);
``QCFS`` is Bu et al.'s quantisation-clip-floor-shift activation, whose L levels mirror what an IF
neuron can emit in L steps. Both keep their per-layer parameter as an ``nn.Parameter`` so the
optimiser learns it with the weights.
"""

from __future__ import annotations

import torch
from torch import nn

from leanspike.errors import ConfigError


class ClippedReLU(nn.Module):
    """y = min(max(x, 0), clip), with a trainable per-layer clip (init 4.0 as in the paper).

    Autograd gives the clip the sum of upstream gradients where x > clip, as the paper states.
    """

    def __init__(self, init_clip: float = 4.0):
        super().__init__()
        if not init_clip > 0:
            raise ConfigError(f"init_clip must be > 0, got {init_clip}")
        self.clip = nn.Parameter(torch.tensor(float(init_clip)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.relu(x), self.clip)

    def extra_repr(self) -> str:
        return f"clip={self.clip.item():.4g}"


class _FloorSTE(torch.autograd.Function):
    """floor in the forward pass, identity in the backward pass (straight-through)."""

    @staticmethod
    def forward(ctx, x):  # noqa: D401
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class QCFS(nn.Module):
    """h(z) = lam * clip(floor(z * L / lam + shift) / L, 0, 1), with a straight-through floor.

    ``shift`` = 0.5 is the paper's choice, which makes the expected conversion error zero when
    the SNN starts at u(0) = lam / 2.
    """

    def __init__(self, levels: int = 8, init_lambda: float = 8.0, shift: float = 0.5):
        super().__init__()
        if int(levels) < 1:
            raise ConfigError(f"levels must be >= 1, got {levels}")
        if not init_lambda > 0:
            raise ConfigError(f"init_lambda must be > 0, got {init_lambda}")
        self.levels = int(levels)
        self.shift = float(shift)
        self.lam = nn.Parameter(torch.tensor(float(init_lambda)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = _FloorSTE.apply(x * self.levels / self.lam + self.shift) / self.levels
        return self.lam * torch.clamp(q, 0.0, 1.0)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lam={self.lam.item():.4g}, shift={self.shift}"


ACTIVATIONS = {
    "relu": nn.ReLU,
    "clip": ClippedReLU,
    "qcfs": QCFS,
}


def make_activation(name: str, **kwargs) -> nn.Module:
    """Build an activation by name: 'relu', 'clip' (trainable clipped ReLU) or 'qcfs'."""
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"activation {name!r}: bad arguments {kwargs} ({exc})") from None
