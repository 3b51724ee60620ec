"""Loihi 2 fixed point: the integer network a chip (and Lava's ``fixed_pt`` models) runs.

The arithmetic is Lava's bit-accurate LIF (lava.proc.lif, ``PyLifModelBitAcc``), which mirrors
Loihi's neuron, with the spec's extras (reset by subtraction, initial potential, per-neuron
thresholds, an integrating output) expressed in the same units:

    a[t]  = sum_j w_j x_j[t]            synaptic input; w = 2 m * 2**e, m an 8-bit signed
                                        mantissa, e the layer's weight exponent
    u[t]  = wrap24(a[t] << 6)           current: no memory (the spec's I[t]), 24-bit wrap
    v[t]  = decay(v[t-1]) + u[t] + (bias_mant << 6)        clipped to +-(2**23 - 1)
    s[t]  = v[t] > (vth << 6)           vth: 17-bit unsigned mantissa
    reset: v -= vth << 6 (subtract) or v = 0 (zero)
    decay(v) = sign(v) * ((|v| * (4096 - dv)) >> 12)       dv: 12 bits, leak = 1 - dv/4096

One *weight unit* u_l per layer is the real value of an integer weight of 1: thresholds,
biases and initial potentials are mantissas in weight units (v itself counts u_l / 64). The
first layer receives the input as graded 8-bit spikes, x = x_int * input_step, so its weight
unit covers input_step as well. Spikes are 1; the spec's amplitude is in the next weights.

u_l is chosen so that the largest weight uses the full 8-bit mantissa, unless the threshold
would then need more than 17 bits or the bias more than 13: then weights give up precision
(``StageQuantisation.weight_rmse`` reports it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leanspike.errors import ConfigError
from leanspike.loihi.stages import Stage

WEIGHT_MANT_MAX = 127          # 8-bit signed mantissa (Lava stores it as 2m, 9 bits, even)
VTH_MANT_MAX = (1 << 17) - 1   # 17-bit unsigned threshold mantissa
BIAS_MANT_MAX = (1 << 12) - 1  # 13-bit signed bias mantissa
BIAS_EXP = 6                   # bias_mant << 6: the bias in weight units, as lava-dl netx sets
STATE_MAX = (1 << 23) - 1      # 24-bit signed state
ACT_SHIFT = 6                  # synaptic input and threshold are MSB-aligned by 6 bits
DECAY_BITS = 12


@dataclass(eq=False)
class FixedStage:
    """One stage in Loihi integers. Per-neuron tensors are int64 in the stage's output shape."""

    stage: Stage                    # the float stage it quantises (geometry, layer index)
    weight: torch.Tensor            # int64, 2 * mantissa (the value Lava's Dense/Sparse store)
    weight_exp: int
    vth: torch.Tensor | None        # threshold mantissa (weight units); None when not spiking
    bias_mant: torch.Tensor
    v_init: torch.Tensor            # initial v, in v units (weight units << 6)
    dv: int
    unit: float                     # real value of one weight unit
    input_scale: float              # real value of one unit of what the stage receives

    @property
    def kind(self) -> str:
        return self.stage.kind

    @property
    def spiking(self) -> bool:
        return self.stage.spiking

    @property
    def reset(self) -> str:
        return self.stage.reset

    def synaptic_weight(self) -> torch.Tensor:
        """The integer weight a synapse applies: mantissa * 2 << exponent, masked."""
        w = self.weight << self.weight_exp
        return w if self.stage.mask is None else w * self.stage.mask

    def synapse(self, x: torch.Tensor) -> torch.Tensor:
        """Integer synaptic input for integer input ``x`` (batch first), exactly.

        float64 holds every sum exactly (|sum| < 2**53); Lava's Conv model computes in float32
        and wraps to 24 bits, so conv sums are wrapped the same way.
        """
        w = self.synaptic_weight().to(torch.float64)
        x = x.to(torch.float64)
        if self.kind == "dense":
            return torch.round(x.flatten(1) @ w.t()).to(torch.int64)
        a = torch.round(F.conv2d(x, w, stride=self.stage.stride, padding=self.stage.padding))
        return wrap(a.to(torch.int64), 24)

    def real_threshold(self) -> torch.Tensor | None:
        return None if self.vth is None else self.vth.to(torch.float64) * self.unit


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap to ``bits`` (Lava's signed_clamp)."""
    base = 1 << bits
    return torch.remainder(x + base // 2, base) - base // 2


def decay(v: torch.Tensor, dv: int) -> torch.Tensor:
    if dv == 0:
        return v
    p = v * ((1 << DECAY_BITS) - dv)
    return torch.sign(p) * (p.abs() >> DECAY_BITS)


def lif_fixed(v: torch.Tensor, a: torch.Tensor, bias_mant: torch.Tensor, dv: int,
              vth: torch.Tensor | None, reset: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One step of the fixed-point neuron (int64 tensors): new v, and spikes unless ``vth`` is
    None (the integrating output)."""
    u = wrap(a << ACT_SHIFT, 24)
    v = decay(v, dv) + u + (bias_mant << BIAS_EXP)
    v = v.clamp(-STATE_MAX, STATE_MAX)
    if vth is None:
        return v, None
    th = vth << ACT_SHIFT
    s = v > th
    v = v - th * s if reset == "subtract" else v * (~s)
    return v, s


def neuron_step(fs: FixedStage, v: torch.Tensor, a: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    return lif_fixed(v, a, fs.bias_mant, fs.dv, fs.vth, fs.reset)


@dataclass
class StageQuantisation:
    """How far one stage's integers are from its real values."""

    layer_index: int
    unit: float
    weight_exp: int
    weight_rmse: float              # RMS weight error, relative to the largest |weight|
    threshold_max_error: float      # largest relative threshold error (0 for the output)
    vth_range: tuple[int, int]
    clipped_biases: int
    clipped_thresholds: int
    dv: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(eq=False)
class FixedNetwork:
    """A spec in Loihi 2 fixed point, ready for Lava's ``fixed_pt`` models or the emulator."""

    stages: list[FixedStage]
    input_step: float               # real value of one input unit
    input_bits: int
    timesteps: int
    input_shape: tuple[int, ...]
    report: list[StageQuantisation]

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Analog inputs as signed ``input_bits`` graded-spike payloads."""
        top = (1 << (self.input_bits - 1)) - 1
        return torch.round(x.to(torch.float64) / self.input_step).clamp(-top, top).to(torch.int64)

    @property
    def output_scale(self) -> float:
        """Real value of one unit of the output stage's v (the logits)."""
        return self.stages[-1].unit / (1 << ACT_SHIFT)

    def uses_weight_exponents(self) -> bool:
        return any(fs.weight_exp for fs in self.stages)


def _round_clip(x: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, int]:
    r = torch.round(x)
    clipped = int(((r < lo) | (r > hi)).sum())
    return r.clamp(lo, hi).to(torch.int64), clipped


def quantize_stage(stage: Stage, input_scale: float, max_weight_exp: int = 0,
                   timesteps: int = 2) -> tuple[FixedStage, StageQuantisation]:
    w = stage.effective_weight() * input_scale  # weight per input unit
    w_max = float(w.abs().max())
    # weight unit: the largest weight uses the whole mantissa (2 * 127 = 254 weight units) ...
    unit = w_max / (2 * WEIGHT_MANT_MAX) if w_max > 0 else 1.0
    th = stage.threshold
    th_min = float(th.min()) if th is not None else 0.0
    th_max = float(th.max()) if th is not None else 0.0
    # ... finer for thresholds and biases through the weight exponent, where allowed ...
    exp = 0
    while (exp < max_weight_exp and th is not None and th_min / (unit / 2) < 64
           and th_max / (unit / 2) <= VTH_MANT_MAX):
        unit, exp = unit / 2, exp + 1
    # ... and coarser where the threshold (17 bits) or the bias (13 bits) would not fit. At
    # T = 1 the initial potential rides on the bias (the netx export relies on it).
    bias = stage.bias + (stage.leak * stage.v_init if timesteps == 1 else 0.0)
    unit = max(unit, th_max / VTH_MANT_MAX, float(bias.abs().max()) / BIAS_MANT_MAX)
    step = 2 * (1 << exp)                       # weight units per mantissa step
    mant = torch.round(w / (unit * step)).clamp(-WEIGHT_MANT_MAX - 1, WEIGHT_MANT_MAX)
    weight = (2 * mant).to(torch.int64)
    if stage.mask is not None:
        weight = weight * stage.mask
    w_q = (weight << exp).to(torch.float64) * unit
    rmse = float(((w_q - w) ** 2).mean().sqrt() / w_max) if w_max > 0 else 0.0
    vth = None
    th_err, clipped_th, vth_range = 0.0, 0, (0, 0)
    if th is not None:
        vth, clipped_th = _round_clip(th / unit, 1, VTH_MANT_MAX)
        th_err = float(((vth.to(torch.float64) * unit - th).abs() / th).max())
        vth_range = (int(vth.min()), int(vth.max()))
    bias_mant, clipped_b = _round_clip(stage.bias / unit, -BIAS_MANT_MAX - 1, BIAS_MANT_MAX)
    v_init = torch.round(stage.v_init / unit).to(torch.int64) << ACT_SHIFT
    v_init = v_init.clamp(-STATE_MAX, STATE_MAX)
    dv = int(round((1 << DECAY_BITS) * (1.0 - stage.leak)))
    if dv >= (1 << DECAY_BITS):
        raise ConfigError(f"layers[{stage.layer_index}]: leak {stage.leak} needs a decay of "
                          f"4096/4096, beyond Loihi's 12-bit dv (max leak step 4095/4096)")
    fs = FixedStage(stage=stage, weight=weight, weight_exp=exp, vth=vth, bias_mant=bias_mant,
                    v_init=v_init, dv=dv, unit=unit, input_scale=input_scale)
    report = StageQuantisation(stage.layer_index, unit, exp, rmse, th_err, vth_range,
                               clipped_b, clipped_th, dv)
    return fs, report


def quantize(stages: list[Stage], inputs: torch.Tensor | None = None, *, timesteps: int,
             input_range: float | None = None, input_bits: int = 8,
             max_weight_exp: int = 0) -> FixedNetwork:
    """Quantise float stages; the input step comes from ``input_range`` or the largest
    |value| in ``inputs`` (e.g. the training set), so test inputs beyond it saturate."""
    if input_range is None:
        if inputs is None:
            raise ConfigError("quantize needs example inputs or an input_range to choose the "
                              "input step of the graded input spikes")
        input_range = float(inputs.abs().max())
    if not input_range > 0:
        raise ConfigError(f"input_range must be > 0, got {input_range}")
    if not 2 <= input_bits <= 24:
        raise ConfigError(f"input_bits must be in 2..24 (Loihi graded spikes), got {input_bits}")
    input_step = input_range / ((1 << (input_bits - 1)) - 1)
    fixed, report = [], []
    for k, stage in enumerate(stages):
        fs, rep = quantize_stage(stage, input_step if k == 0 else 1.0, max_weight_exp,
                                 timesteps)
        fixed.append(fs)
        report.append(rep)
    return FixedNetwork(fixed, input_step, input_bits, timesteps, stages[0].input_shape, report)
