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

A current-based layer (the spec's current_leak, snnTorch's Synaptic) has Loihi's CUBA current
with memory, du = 4096 * (1 - current_leak), and its bias joins the current, as the spec's does:

    u[t]  = wrap24(decay_du(u[t-1]) + (a[t] << 6) + (bias_mant << 6))      u[0] = 0
    v[t]  = decay(v[t-1]) + u[t]                                            clipped as above

du is the effective decay constant: Lava's LIF adds 1 to its 12-bit du register (ds_offset), so
du here is Lava's du + 1, and netx's iDecay. Lava's LIF adds the bias to v instead: the same
neuron when du = 4096, a different network on a current with memory; so this neuron is
leanspike's, as its reset by subtraction is (a one-line change of Loihi 2's microcoded CUBA
neuron).

One *weight unit* u_l per layer is the real value of an integer weight of 1: thresholds,
biases and initial potentials are mantissas in weight units (v itself counts u_l / 64). Spikes
are 1; the spec's amplitude is in the next weights. A spiking readout's raw output is its
spike count, each count worth the last LIF layer's amplitude (``output_scale``).

The first layer receives the input as signed graded spikes p (``InputEncoding``), per input
channel x = offset_c + step_c * p. When the data sit on a lattice, as pixels do (digits has 17
levels, MNIST and CIFAR 256), the step is the lattice's, the offset its point nearest zero, and
the encoding is exact; otherwise p = round(x / step) with the step set by the largest |x|. The
step joins the first layer's weights and the offset its (per-neuron, border-aware) bias.

u_l is chosen so that the largest weight uses the full 8-bit mantissa, unless the threshold
would then need more than 17 bits or the bias more than 13, or the first layer's current would
outgrow its 24 bits on the example inputs (graded 9-bit payloads times full 8-bit weights can):
then weights give up precision (``StageQuantisation.weight_rmse`` reports it) rather than
letting the chip wrap a current the float twin does not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leanspike.errors import ConfigError
from leanspike.loihi.stages import Stage, Synapses, count_output
from leanspike.spec import INPUT

WEIGHT_MANT_MAX = 127          # 8-bit signed mantissa (Lava stores it as 2m, 9 bits, even)
VTH_MANT_MAX = (1 << 17) - 1   # 17-bit unsigned threshold mantissa
BIAS_MANT_MAX = (1 << 12) - 1  # 13-bit signed bias mantissa
BIAS_EXP = 6                   # bias_mant << 6: the bias in weight units, as lava-dl netx sets
STATE_MAX = (1 << 23) - 1      # 24-bit signed state
ACT_SHIFT = 6                  # synaptic input and threshold are MSB-aligned by 6 bits
DECAY_BITS = 12
NO_MEMORY = 1 << DECAY_BITS    # du of a current without memory (netx's iDecay 4096)


@dataclass(eq=False)
class FixedStage:
    """One stage in Loihi integers. Per-neuron tensors are int64 in the stage's output shape."""

    stage: Stage                    # the float stage it quantises (geometry, layer index)
    weight: torch.Tensor            # int64, 2 * mantissa (the value Lava's Dense/Sparse store)
    weight_exp: int
    vth: torch.Tensor | None        # threshold mantissa (weight units); None when not spiking
    bias_mant: torch.Tensor
    v_init: torch.Tensor            # initial v, in v units (weight units << 6)
    dv: int | torch.Tensor          # one per layer, or int64 per neuron (the stage's leak)
    unit: float                     # real value of one weight unit
    du: int = NO_MEMORY             # current decay; NO_MEMORY: no current state (not CUBA)
    extra_weights: tuple[torch.Tensor, ...] = ()  # the stage's further synapse groups, as
                                                  # ``weight``

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

    def synapse_groups(self, k: int) -> list[tuple[Synapses, torch.Tensor]]:
        """Every synapse group into the neurons with the integer weights it applies, as stage
        ``k`` of its network (``Stage.synapse_groups``): all share the stage's weight unit
        and exponent, so their currents add in one unit."""
        groups = self.stage.synapse_groups(k)
        weights = [self.weight, *self.extra_weights]
        return [(g, _masked(w << self.weight_exp, g.mask)) for g, w in zip(groups, weights)]

    def synapse(self, x: torch.Tensor) -> torch.Tensor:
        """Integer synaptic input of the stage's own group for integer input ``x``."""
        return integer_synapse(self.stage, self.synaptic_weight(), x)

    def real_threshold(self) -> torch.Tensor | None:
        return None if self.vth is None else self.vth.to(torch.float64) * self.unit


def _masked(w: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return w if mask is None else w * mask


def integer_synapse(group, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The integer synaptic input of one synapse group (a Stage or Synapses: its geometry)
    with integer weights ``weight`` for integer input ``x`` (batch first), exactly.

    float64 holds every sum exactly (|sum| < 2**53); Lava's Conv model computes in float32
    and wraps to 24 bits, so conv sums are wrapped the same way.
    """
    w = weight.to(torch.float64)
    x = x.to(torch.float64)
    if group.kind == "dense":
        a = torch.round(x.flatten(1) @ w.t()).to(torch.int64)
        return a.reshape(x.shape[0], *group.output_shape)
    a = torch.round(F.conv2d(x, w, stride=group.stride, padding=group.padding,
                             groups=group.groups))
    return wrap(a.to(torch.int64), 24)


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap to ``bits`` (Lava's signed_clamp)."""
    base = 1 << bits
    return torch.remainder(x + base // 2, base) - base // 2


def decay(v: torch.Tensor, dv: int | torch.Tensor) -> torch.Tensor:
    """Loihi's decay, dv one per layer or one per neuron (a tensor broadcast to v)."""
    if not isinstance(dv, torch.Tensor) and dv == 0:
        return v
    p = v * ((1 << DECAY_BITS) - dv)
    return torch.sign(p) * (p.abs() >> DECAY_BITS)


def initial_units(v_init, leak, unit: float) -> torch.Tensor:
    """The whole units n nearest leak * v_init: what a window's decayed start is on chip."""
    def f64(x):
        return (x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x)).double()

    return torch.round(f64(leak) * f64(v_init) / unit).to(torch.int64)


def initial_potential(v_init, leak, dv, unit: float) -> torch.Tensor:
    """The chip's v0 for a float initial potential, in v units.

    A window starts from v0 decayed (``decay``), so v0 only matters through that value: v0 is
    the integer whose decay is n << 6 for the whole units n nearest leak * v_init
    (``initial_units``), rather than v_init's nearest unit, whose decay is generally no whole
    unit. The decayed start is then one more bias mantissa, exactly: at T = 1 the netx export
    (whose neuron starts at 0) moves it into the bias, and a snapped twin's v_init is
    n * unit / leak (``leanspike.loihi.snap``). Without leak v0 is v_init's nearest unit << 6."""
    n = initial_units(v_init, leak, unit)
    kept = (1 << DECAY_BITS) - torch.as_tensor(dv, dtype=torch.int64)
    target = n.abs() << ACT_SHIFT
    # the least |v0| with floor(|v0| * kept / 4096) == target (decay steps by 0 or 1 per v)
    v0 = torch.sign(n) * ((target * (1 << DECAY_BITS) + kept - 1) // kept)
    return v0.clamp(-STATE_MAX, STATE_MAX)


def decay_constant(leak: float | torch.Tensor) -> int | torch.Tensor:
    """Loihi's 12-bit dv for a leak (per neuron for a tensor): leak = 1 - dv / 4096."""
    if isinstance(leak, torch.Tensor):
        return torch.round((1 << DECAY_BITS) * (1.0 - leak)).to(torch.int64)
    return int(round((1 << DECAY_BITS) * (1.0 - leak)))


def lif_fixed(v: torch.Tensor, u: torch.Tensor, a: torch.Tensor, bias_mant: torch.Tensor,
              du: int, dv: int, vth: torch.Tensor | None, reset: str
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One step of the fixed-point neuron (int64 tensors): new v, new current u, and spikes
    unless ``vth`` is None (the integrating output). ``du`` NO_MEMORY: Lava's LIF, the bias on
    v and ``u`` unused; else the current-based neuron of the module docstring."""
    if du == NO_MEMORY:
        v = decay(v, dv) + wrap(a << ACT_SHIFT, 24) + (bias_mant << BIAS_EXP)
    else:
        u = wrap(decay(u, du) + (a << ACT_SHIFT) + (bias_mant << BIAS_EXP), 24)
        v = decay(v, dv) + u
    v = v.clamp(-STATE_MAX, STATE_MAX)
    if vth is None:
        return v, u, None
    v, s = fire(v, vth << ACT_SHIFT, reset)
    return v, u, s


def fire(v: torch.Tensor, threshold: torch.Tensor, reset: str
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes where v exceeds the threshold (strictly), and v after the reset: minus the
    threshold ("subtract"), zero ("zero") or as it was ("none"). The same in float and in
    integers."""
    s = v > threshold
    if reset == "subtract":
        v = v - threshold * s
    elif reset == "zero":
        v = v * (~s)
    return v, s


def neuron_step(fs: FixedStage, v: torch.Tensor, u: torch.Tensor, a: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    return lif_fixed(v, u, a, fs.bias_mant, fs.du, fs.dv, fs.vth, fs.reset)


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
    dv: int | tuple[int, int]       # one per layer, or (min, max) of per-neuron decays

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(eq=False)
class InputEncoding:
    """Analog input as graded-spike payloads: x = offset_c + step_c * p, p signed ``bits``."""

    step: torch.Tensor     # float64 [C]
    offset: torch.Tensor   # float64 [C]
    bits: int
    exact: bool            # the calibration data lie on the lattice

    def per_channel(self, t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """A [C] tensor spread over one input of ``shape`` ((C, H, W), (C, L), or (F,) with
        one channel)."""
        return t.reshape(-1, *([1] * (len(shape) - 1))).expand(shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape[1:])
        step = self.per_channel(self.step, shape)
        offset = self.per_channel(self.offset, shape)
        top = (1 << (self.bits - 1)) - 1
        p = torch.round((x.to(torch.float64) - offset) / step)
        return p.clamp(-top, top).to(torch.int64)

    def represented(self, x: torch.Tensor) -> torch.Tensor:
        """The real values the chip's payloads stand for (float64): ``x`` itself where the
        encoding is exact, else ``x`` rounded onto the lattice and clipped to its range."""
        shape = tuple(x.shape[1:])
        return (self.per_channel(self.offset, shape)
                + self.per_channel(self.step, shape) * self.encode(x).to(torch.float64))

    def as_dict(self) -> dict:
        return {"step": self.step.tolist(), "offset": self.offset.tolist(), "bits": self.bits,
                "exact": self.exact}

    @classmethod
    def from_dict(cls, d: dict) -> InputEncoding:
        return cls(torch.tensor(d["step"], dtype=torch.float64),
                   torch.tensor(d["offset"], dtype=torch.float64), int(d["bits"]),
                   bool(d["exact"]))


def _lattice(values: torch.Tensor, top: int) -> tuple[float, float] | None:
    """(step, offset) of the lattice the values lie on, with the offset the lattice point
    nearest zero, if the lattice fits in +-top payload levels."""
    if values.numel() < 2 or values.numel() > 2 * top + 1:
        return None
    step = float((values[1:] - values[:-1]).min())
    if step <= 0:
        return None
    k = (values - values[0]) / step
    if float((k - k.round()).abs().max()) > 1e-3:
        return None
    offset = float(values[0]) + round(-float(values[0]) / step) * step
    p = torch.round((values - offset) / step)
    if float(p.abs().max()) > top:
        return None
    return step, offset


def input_encoding(inputs: torch.Tensor | None, input_shape: tuple[int, ...], bits: int,
                   input_range: float | None = None) -> InputEncoding:
    """The graded-spike encoding of the first layer's input, from example inputs (per channel:
    their lattice, else their range) or from a symmetric ``input_range``."""
    top = (1 << (bits - 1)) - 1
    channels = input_shape[0] if len(input_shape) == 3 else 1
    if input_range is not None:
        if not input_range > 0:
            raise ConfigError(f"input_range must be > 0, got {input_range}")
        step = torch.full((channels,), input_range / top, dtype=torch.float64)
        return InputEncoding(step, torch.zeros(channels, dtype=torch.float64), bits, False)
    if inputs is None:
        raise ConfigError("quantize needs example inputs or an input_range to choose the "
                          "input encoding (graded input spikes)")
    x = inputs.detach().to(torch.float64)
    x = x.transpose(0, 1).reshape(channels, -1) if len(input_shape) == 3 else x.reshape(1, -1)
    steps, offsets, exact = [], [], True
    for c in range(channels):
        values = torch.unique(x[c])
        found = _lattice(values, top)
        if found is None:
            exact = False
            # symmetric around 0: an offset would ride on the 13-bit bias, which is too narrow
            # for more than the half step a lattice offset needs
            found = (max(float(values.abs().max()), 1e-12) / top, 0.0)
        steps.append(found[0])
        offsets.append(found[1])
    return InputEncoding(torch.tensor(steps, dtype=torch.float64),
                         torch.tensor(offsets, dtype=torch.float64), bits, exact)


@dataclass(eq=False)
class FixedNetwork:
    """A spec in Loihi 2 fixed point, ready for Lava's ``fixed_pt`` models or the emulator."""

    stages: list[FixedStage]
    encoding: InputEncoding
    timesteps: int
    input_shape: tuple[int, ...]
    report: list[StageQuantisation]

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Analog inputs as the first layer's graded-spike payloads."""
        return self.encoding.encode(x)

    @property
    def input_bits(self) -> int:
        return self.encoding.bits

    @property
    def spiking_readout(self) -> bool:
        """The raw output is the last stage's spike count, not its potential."""
        return self.stages[-1].spiking

    @property
    def output_scale(self) -> float:
        """Real value of one unit of the raw output: of the output stage's v (an integrating
        output), or of one spike (a spiking readout: its amplitude)."""
        if self.spiking_readout:
            return self.stages[-1].stage.amplitude
        return self.stages[-1].unit / (1 << ACT_SHIFT)

    def real_output(self, raw: torch.Tensor) -> torch.Tensor:
        """The raw output (v units, or spike counts) in real units, float32: what
        ``leanspike.reference.simulate`` returns as ``output``."""
        if self.spiking_readout:
            return count_output(raw, self.output_scale)
        return (raw.to(torch.float64) * self.output_scale).to(torch.float32)

    def uses_weight_exponents(self) -> bool:
        return any(fs.weight_exp for fs in self.stages)


def _round_clip(x: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, int]:
    r = torch.round(x)
    clipped = int(((r < lo) | (r > hi)).sum())
    return r.clamp(lo, hi).to(torch.int64), clipped


def quantize_stage(stage: Stage, max_weight_exp: int = 0, timesteps: int = 2,
                   min_unit: float = 0.0, pinned: tuple[float, int] | None = None
                   ) -> tuple[FixedStage, StageQuantisation]:
    """``min_unit``: the finest weight unit the layer's synaptic input allows (its 24-bit
    current, see ``current_headroom``). ``pinned``: (unit, weight exponent) to use as they
    are, when the weights already lie on that grid (``on_grid``)."""
    w = stage.effective_weight()  # per unit of input (a spike, or a payload step)
    # one unit for every synapse group into the neurons: their currents add in it
    groups = (stage, *stage.extra_synapses)
    w_max = max(float(g.effective_weight().abs().max()) for g in groups)
    if pinned is not None and all(on_grid(g.effective_weight(), *pinned) for g in groups):
        return _quantize_at(stage, w, w_max, *pinned)
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
    unit = max(unit, th_max / VTH_MANT_MAX, float(bias.abs().max()) / BIAS_MANT_MAX, min_unit)
    return _quantize_at(stage, w, w_max, unit, exp)


# How far from a whole mantissa a snapped weight may read. Snapped weights are float32, whose
# rounding (6e-8 of a mantissa up to 128, times the factors folded in) exceeds 1e-6 and then
# unpinned the unit; a weight off the grid lands this close by chance with odds 2e-4 each.
ON_GRID_TOLERANCE = 1e-4


def on_grid(w: torch.Tensor, unit: float, exp: int) -> bool:
    """The weights are whole 8-bit mantissas at this unit and exponent (a snapped spec's)."""
    m = w / (unit * 2 * (1 << exp))
    return bool(((m - m.round()).abs() < ON_GRID_TOLERANCE).all()
                and m.round().abs().max() <= WEIGHT_MANT_MAX + 1)


def _quantize_at(stage: Stage, w: torch.Tensor, w_max: float, unit: float, exp: int
                 ) -> tuple[FixedStage, StageQuantisation]:
    th = stage.threshold
    step = 2 * (1 << exp)                       # weight units per mantissa step

    def mantissas(real: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        mant = torch.round(real / (unit * step)).clamp(-WEIGHT_MANT_MAX - 1, WEIGHT_MANT_MAX)
        return _masked((2 * mant).to(torch.int64), mask)

    weight = mantissas(w, stage.mask)
    extra = tuple(mantissas(g.effective_weight(), g.mask) for g in stage.extra_synapses)
    errors = torch.cat([((q << exp).to(torch.float64) * unit - real).flatten()
                        for q, real in zip((weight, *extra),
                                           (w, *(g.effective_weight()
                                                 for g in stage.extra_synapses)))])
    rmse = float((errors ** 2).mean().sqrt() / w_max) if w_max > 0 else 0.0
    vth = None
    th_err, clipped_th, vth_range = 0.0, 0, (0, 0)
    if th is not None:
        vth, clipped_th = _round_clip(th / unit, 1, VTH_MANT_MAX)
        th_err = float(((vth.to(torch.float64) * unit - th).abs() / th).max())
        vth_range = (int(vth.min()), int(vth.max()))
    bias_mant, clipped_b = _round_clip(stage.bias / unit, -BIAS_MANT_MAX - 1, BIAS_MANT_MAX)
    dv = decay_constant(stage.leak)
    if bool(torch.as_tensor(dv >= (1 << DECAY_BITS)).any()):
        leak = float(torch.as_tensor(stage.leak).min())
        raise ConfigError(f"layers[{stage.layer_index}]: leak {leak} needs a decay of "
                          f"4096/4096, beyond Loihi's 12-bit dv (max leak step 4095/4096)")
    v_init = initial_potential(stage.v_init, stage.leak, dv, unit)
    du = NO_MEMORY
    if stage.current_leak:
        # the nearest decay Loihi has (du 1..4095: current_leak 1/4096 .. 4095/4096); a current
        # that never decays (snnTorch's alpha trained up to its clamp at 1) saturates at 4095/4096
        du = min(max(int(round((1 << DECAY_BITS) * (1.0 - stage.current_leak))), 1),
                 NO_MEMORY - 1)
    fs = FixedStage(stage=stage, weight=weight, weight_exp=exp, vth=vth, bias_mant=bias_mant,
                    v_init=v_init, dv=dv, unit=unit, du=du, extra_weights=extra)
    report = StageQuantisation(stage.layer_index, unit, exp, rmse, th_err, vth_range,
                               clipped_b, clipped_th, dv if isinstance(dv, int) else
                               (int(dv.min()), int(dv.max())))
    return fs, report


def _encoded_first_stage(stage: Stage, enc: InputEncoding) -> Stage:
    """The first stage seen from the payload: weights times the step of their input channel,
    the offset's (border-aware) current added to the bias."""
    step = enc.per_channel(enc.step, stage.input_shape)
    if stage.kind == "conv":
        weight = stage.weight * enc.step[None, :, None, None]
    else:
        weight = stage.weight * step.reshape(1, -1)
    offset = enc.per_channel(enc.offset, stage.input_shape)[None]
    bias = stage.bias + stage.synapse(offset)[0].reshape(stage.output_shape)
    return dataclasses.replace(stage, weight=weight, bias=bias)


def current_headroom(stage: Stage, encoding: InputEncoding,
                     inputs: torch.Tensor | None) -> float:
    """The finest weight unit at which the first layer's synaptic input fits Loihi's 24-bit
    current (|a| << 6 <= 2**23 - 1, a in weight units): for the example ``inputs`` (their
    largest current), else for the worst payload. Graded input spikes of 9 bits times full
    8-bit weights outgrow it; finer units would make the chip wrap the current around where
    the float twin does not."""
    if inputs is not None:
        payload = encoding.encode(inputs.reshape(inputs.shape[0], *stage.input_shape)
                                  ).to(torch.float64)
        largest = float(stage.synapse(payload).abs().max()) if payload.numel() else 0.0
    else:  # every input at the largest payload, with the sign of its weight
        top = (1 << (encoding.bits - 1)) - 1
        largest = float(stage.synapse(torch.full((1, *stage.input_shape), float(top),
                                                 dtype=torch.float64),
                                      stage.effective_weight().abs()).abs().max())
    return largest * (1 << ACT_SHIFT) / STATE_MAX


def quantize(stages: list[Stage], inputs: torch.Tensor | None = None, *, timesteps: int,
             input_range: float | None = None, input_bits: int = 8,
             max_weight_exp: int = 0, pinned: list[tuple[float, int]] | None = None
             ) -> FixedNetwork:
    """Quantise float stages. The input encoding comes from example ``inputs`` (e.g. the
    training set: their lattice or range) or a symmetric ``input_range``; test inputs beyond
    the encoding's range saturate. ``pinned``: per stage the (unit, weight exponent) a spec was
    snapped with (``pinned_units``): quantising a snapped spec again then gives its integers
    exactly, even where the unit came from the data (the 24-bit current headroom)."""
    if not 2 <= input_bits <= 24:
        raise ConfigError(f"input_bits must be in 2..24 (Loihi graded spikes), got {input_bits}")
    for k, stage in enumerate(stages):
        readers = [g for g in stage.synapse_groups(k) if g.source == INPUT]
        if len(readers) > (k == 0 and stage.source_of(0) == INPUT):
            raise ConfigError(f"layers[{stage.layer_index}]: more than the first population's "
                              f"own synapses receive the network's input; its graded-spike "
                              f"encoding is folded into one synapse group, so such a graph "
                              f"has no fixed-point form here")
    encoding = input_encoding(inputs, stages[0].input_shape, input_bits, input_range)
    fixed, report = [], []
    for k, stage in enumerate(stages):
        min_unit = 0.0
        if k == 0:
            stage = _encoded_first_stage(stage, encoding)
            min_unit = current_headroom(stage, encoding, inputs)
        fs, rep = quantize_stage(stage, max_weight_exp, timesteps, min_unit,
                                 None if pinned is None else pinned[k])
        fixed.append(fs)
        report.append(rep)
    return FixedNetwork(fixed, encoding, timesteps, stages[0].input_shape, report)


def pinned_units(metadata: dict, stages: list[Stage]) -> list[tuple[float, int]] | None:
    """The (unit, weight exponent) per stage that ``snap_to_fixed_point`` recorded in a
    spec's metadata, when they belong to these stages; else None."""
    layers = (metadata.get("fixed_point") or {}).get("layers")
    if not isinstance(layers, list) or len(layers) != len(stages):
        return None
    try:
        if [int(r["layer_index"]) for r in layers] != [st.layer_index for st in stages]:
            return None
        return [(float(r["unit"]), int(r["weight_exp"])) for r in layers]
    except (KeyError, TypeError, ValueError):
        return None
