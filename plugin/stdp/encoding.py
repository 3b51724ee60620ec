"""Images to first-spike times: optional DoG ON/OFF filtering, then intensity-to-latency.

Every neuron of a time-to-first-spike (TTFS) network fires at most once per sample, so a whole
layer's activity is one integer tensor of spike times; ``NEVER`` marks a neuron that stays
silent. Stronger input fires earlier: that ordering is the only information the code carries.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from leanspike.errors import ConfigError

NEVER = 2**30
"""Spike time of a neuron that does not fire: later than any time step, so ``t_pre <= t_post``
and min-pooling need no special case."""


def dog_kernel(size: int = 5, sigma_center: float = 1.0, sigma_surround: float = 2.0
               ) -> torch.Tensor:
    """A zero-mean difference-of-Gaussians kernel [size, size] (ON centre, OFF surround), as
    the retina-like front end of Kheradpisheh et al. (2018) uses."""
    if size < 1 or size % 2 == 0:
        raise ConfigError(f"DoG size must be odd and positive, got {size}")
    if not 0 < sigma_center < sigma_surround:
        raise ConfigError(f"DoG needs 0 < sigma_center < sigma_surround, got {sigma_center}, "
                          f"{sigma_surround}")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2

    def gauss(s):
        return torch.exp(-d2 / (2 * s * s)) / (2 * math.pi * s * s)

    k = gauss(sigma_center) - gauss(sigma_surround)
    return k - k.mean()


def dog_on_off(images: torch.Tensor, size: int = 5, sigma_center: float = 1.0,
               sigma_surround: float = 2.0) -> torch.Tensor:
    """ON and OFF channels [N, 2C, H, W]: the positive and the negative part of each channel
    filtered with ``dog_kernel`` (same size, zero padding). Contrast, not brightness, drives
    the first layer, which is what makes STDP features edge-like on natural images."""
    if images.dim() != 4:
        raise ConfigError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    c = images.shape[1]
    k = dog_kernel(size, sigma_center, sigma_surround).to(images.dtype)
    k = k.expand(c, 1, size, size).contiguous()
    out = F.conv2d(images, k, padding=size // 2, groups=c)
    return torch.cat([out.clamp(min=0), (-out).clamp(min=0)], dim=1)


def intensity_to_latency(x: torch.Tensor, timesteps: int, *, min_intensity: float = 0.0,
                         normalize: bool = True) -> torch.Tensor:
    """First-spike times (int64, same shape) of non-negative intensities ``x`` [N, ...].

    With ``normalize`` each sample is divided by its own maximum, so its strongest input fires
    at t=0 whatever the contrast. A value v in (0, 1] fires at ``floor((1 - v) * T)`` (clamped
    to T-1): the T intensity bins of width 1/T map one to one onto the T steps, brighter
    earlier. Values <= ``min_intensity`` never fire (``NEVER``).
    """
    if timesteps < 1:
        raise ConfigError(f"timesteps must be >= 1, got {timesteps}")
    if x.dim() < 2:
        raise ConfigError(f"x must be [N, ...] with a sample dimension, got {tuple(x.shape)}")
    if bool((x < 0).any()):
        raise ConfigError("intensities must be non-negative (filter with dog_on_off or shift "
                          "the data into [0, 1] first)")
    v = x.to(torch.float64)
    if normalize:
        peak = v.flatten(1).amax(1).clamp(min=1e-12)
        v = v / peak.view(-1, *([1] * (v.dim() - 1)))
    t = torch.floor((1.0 - v.clamp(max=1.0)) * timesteps).clamp(0, timesteps - 1).to(torch.int64)
    return torch.where(v > min_intensity, t, torch.full_like(t, NEVER))


def spike_wave(times: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Binary spikes [T, *times.shape]: 1 at each neuron's firing step, 0 elsewhere."""
    steps = torch.arange(timesteps).view(-1, *([1] * times.dim()))
    return (times.unsqueeze(0) == steps).to(torch.float32)
