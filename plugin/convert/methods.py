"""The converters: how each one picks a layer's threshold, spike amplitude and initial potential.

All produce IF neurons (leak 1) with reset by subtraction; a spike carries ``amplitude`` to the
next layer, so no weight is rescaled and biases stay as they are (a constant current each step)
in every method. With pre-activation x held constant for T steps, such a neuron passes on

    f_T(x) = amplitude * n_T(x) / T,   n_T(x) = number of steps with u > threshold,

and each method is a choice of (threshold, amplitude, v_init) that makes f_T approximate the
ANN's activation:

- ``max``: threshold = amplitude = the layer's largest pre-activation (Diehl et al. 2015).
- ``percentile``: the same with the 99.9th percentile ("robust" normalisation, Rueckauer 2017).
- ``qcfs``: threshold = amplitude = the QCFS lambda, v_init = lambda / 2 (Bu et al. 2022).
- ``iir``: amplitude 1, weights kept, thresholds found layer by layer on the partly converted
  SNN (the IIR paper's starting point; see ``sequential``).
- ``datta``: with mu the layer's clip, threshold = a * mu and amplitude = b * mu, where (a, b)
  minimise the mean squared error  E_x[(clip(x, 0, mu) - f_T(x))^2]  over the layer's
  calibration pre-activations at the target T (v_init = 0). For each a on a grid the best b is
  the least-squares solution, so the search is exact in b and fine-grained in a.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

from leanspike.activations import QCFS, ClippedReLU
from leanspike.convert.calibration import LayerStats
from leanspike.errors import ConfigError

METHODS = ("max", "percentile", "datta", "qcfs", "iir")
PERCENTILE = 99.9


@dataclass
class LayerChoice:
    """What a converter chose for one hidden layer, and why."""

    name: str
    method: str
    clip: float  # the ANN activation's upper level (clip, lambda, max or percentile)
    threshold: float
    amplitude: float
    v_init: float
    a: float | None  # threshold / clip (datta)
    b: float | None  # amplitude / clip (datta)
    expected_mse: float | None  # E[(clip(x,0,clip) - f_T(x))^2] on the calibration sample

    def as_dict(self) -> dict:
        return asdict(self)


def if_spike_counts(x: torch.Tensor, threshold: float, timesteps: int,
                    v_init: float = 0.0) -> torch.Tensor:
    """n_T(x): spikes of an IF neuron (reset by subtraction, fires on u > threshold) given the
    constant input current x for T steps, starting from v_init."""
    u = torch.full_like(x, v_init)
    n = torch.zeros_like(x)
    for _ in range(timesteps):
        u = u + x
        s = (u > threshold).to(x.dtype)
        u = u - threshold * s
        n = n + s
    return n


def _mse(x, clip, threshold, amplitude, v_init, timesteps) -> float:
    f = amplitude * if_spike_counts(x, threshold, timesteps, v_init) / timesteps
    return float(((x.clamp(0, clip) - f) ** 2).mean())


def activation_clip(activation: nn.Module, stats: LayerStats, method: str) -> float:
    """The ANN activation's upper level, or the calibration percentile for a plain ReLU."""
    if isinstance(activation, ClippedReLU):
        return float(activation.clip.detach())
    if isinstance(activation, QCFS):
        return float(activation.lam.detach())
    if method in ("datta", "qcfs"):
        expected = "clipped ReLU" if method == "datta" else "QCFS"
        warnings.warn(f"{stats.name}: {method!r} expects a {expected} activation, the ANN has "
                      f"a ReLU: using the {PERCENTILE}th percentile of "
                      f"its pre-activations as the clip", RuntimeWarning, stacklevel=3)
    return stats.percentile(PERCENTILE)


def datta_search(x: torch.Tensor, clip: float, timesteps: int,
                 grid: torch.Tensor | None = None) -> tuple[float, float, float]:
    """(a, b, mse): the threshold and amplitude factors of the ``datta`` method."""
    if grid is None:
        grid = torch.linspace(0.02, 1.5, 149)
    target = x.clamp(0, clip)
    best = (1.0, 1.0, float("inf"))
    for a in grid.tolist():
        c = if_spike_counts(x, a * clip, timesteps) / timesteps
        cc = float((c * c).sum())
        if cc == 0:
            continue
        b = float((target * c).sum()) / (clip * cc)
        if b <= 0:
            continue
        err = float(((target - b * clip * c) ** 2).mean())
        if err < best[2]:
            best = (a, b, err)
    if best[2] == float("inf"):  # the layer never fires: fall back to threshold = clip
        best = (1.0, 1.0, _mse(x, clip, clip, clip, 0.0, timesteps))
    return best


def choose(method: str, activation: nn.Module, stats: LayerStats, timesteps: int) -> LayerChoice:
    if method not in METHODS:
        raise ConfigError(f"unknown conversion method {method!r}; choose from {METHODS}")
    x = stats.sample
    if method == "max":
        clip = stats.maximum
    elif method == "percentile":
        clip = stats.percentile(PERCENTILE)
    else:
        clip = activation_clip(activation, stats, method)
    if not clip > 0:
        raise ConfigError(f"{stats.name}: the layer's pre-activations never exceed 0 on the "
                          f"calibration data (dead layer); cannot set a threshold")
    if method == "datta":
        a, b, err = datta_search(x, clip, timesteps)
        return LayerChoice(stats.name, method, clip, a * clip, b * clip, 0.0, a, b, err)
    v_init = clip / 2 if method == "qcfs" else 0.0
    err = _mse(x, clip, clip, clip, v_init, timesteps)
    return LayerChoice(stats.name, method, clip, clip, clip, v_init, 1.0, 1.0, err)
