"""A spec moved onto the Loihi 2 fixed-point grid, so that its float twin and the chip agree.

Quantisation changes some decisions (an 8-bit weight moves a potential across a threshold), so
a fixed-point deployment cannot be checked against the float network it came from: the two are
different networks. ``snap_to_fixed_point`` returns the network the chip actually runs, as a
spec: every weight, threshold, bias, initial potential and leak replaced by the real value of
its integer on Loihi. Its snnTorch model is the deployment's twin (same decisions up to float
rounding), its accuracy is the quantised accuracy, and quantising it again gives the same
integers (snapping is idempotent).

A snapped threshold sits ``TIE_BREAK`` of a unit above its integer's value. The chip compares
integers, v > vth, and v is a sum of integers, so v == vth (no spike) is common; the twin's
float32 v carries rounding of about 1e-7 of its size, which would send such ties either way.
Between vth and the next value v can take (one v step, 1/64 of a unit, or a whole unit without
a leak) the two comparisons are the same, so with the threshold in that gap the twin decides
as the chip does; rounding the threshold again gives vth back. A reset by subtraction takes the
1/1024 with it, which stays inside the gap for up to 8 spikes of a neuron with a leak (512
without).

What stays approximate: with an input lattice with a non-zero offset (standardised pixels), the
neurons of a first convolution next to a padded border (the offset's current is folded into a
per-neuron bias on chip, the spec has one bias per channel, which is exact for the others);
leaks below 1 and current decays (snnTorch Synaptic's alpha) at T > 1 (Loihi's decay rounds
toward zero each step); and float32 inputs, which sit off their lattice by their own rounding:
where the first layer's weights are large against its unit that error can outgrow the
tie-break (float64 inputs decide as on chip).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from leanspike import spec as S
from leanspike.errors import SpecError
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.explicit_groups import explicit_groups
from leanspike.loihi.stages import to_stages

TIE_BREAK = 1.0 / 1024  # units above the integer threshold: inside the gap to the next v


def _grid(value: torch.Tensor, step: torch.Tensor | float) -> torch.Tensor:
    return torch.round(value / step) * step


def _snap_scalar(value, unit: float, lowest: int | None = None, highest: int | None = None,
                 above: float = 0.0):
    """A threshold (float or per-neuron tensor) on the weight-unit grid,
    its mantissa clipped to [lowest, highest] as ``quantize`` clips it (a threshold is at
    least one unit: below half a unit it would round to zero, which no spec allows), plus
    ``above`` units."""
    if isinstance(value, torch.Tensor):
        mant = torch.round(value.detach().to(torch.float64) / unit)
        if lowest is not None or highest is not None:
            mant = mant.clamp(lowest, highest)
        return ((mant + above) * unit).to(value.dtype)
    mant = round(float(value) / unit)
    mant = max(mant, lowest) if lowest is not None else mant
    mant = min(mant, highest) if highest is not None else mant
    return float((mant + above) * unit)


def _spike_source(spec: S.NetworkSpec, i: int) -> tuple[int, float]:
    """(the node whose spikes reach weighted layer ``i``, 1/area of the average pools on the
    way): the population (or ``INPUT``) behind the pools, flattens and max pools before it. A
    max pooling population's spike stands for the amplitude before it."""
    area, j = 1.0, spec.inputs_of(i)[0]
    while j != S.INPUT and getattr(spec.layers[j], "neuron", None) is None:
        layer = spec.layers[j]
        if isinstance(layer, S.Add):  # explicit_groups leaves no sum of spike trains
            raise SpecError(f"layers[{i}] takes a sum of spike trains (layers[{j}])")
        if isinstance(layer, S.AVG_POOLS):
            area *= math.prod(layer.kernel_size)
        j = spec.inputs_of(j)[0]
    return j, area


def _weight_factor(spec: S.NetworkSpec, index: int, encoding: fx.InputEncoding | None
                   ) -> torch.Tensor | float:
    """What the hardware stage multiplies layer ``index``'s spec weights by: the spike
    amplitude of the population whose spikes it receives, 1/area of each average pool folded
    in, and on the network's input the encoding's step (per input channel)."""
    source, area = _spike_source(spec, index)
    if source != S.INPUT:
        neuron = spec.layers[source].neuron
        return (float(neuron.amplitude) if isinstance(neuron, S.LIF) else 1.0) / area
    weight = spec.layers[index].weight
    step = encoding.step.to(torch.float64) / area
    if weight.dim() >= 3:  # conv (1-D or 2-D): per input channel
        return step.reshape(1, -1, *([1] * (weight.dim() - 2)))
    channels = step.numel()
    per_input = step.repeat_interleave(weight.shape[1] // channels) if channels > 1 else step
    return per_input.reshape(1, -1)


def _population(spec: S.NetworkSpec) -> dict[int, int]:
    """Per weighted layer, the node whose neurons its synapses drive: its own, or the Add that
    carries the neuron and sums its current."""
    out = {}
    consumers = spec.consumers()
    for i, layer in spec.weighted_layers():
        out[i] = i if layer.neuron is not None else consumers[i][0]
    return out


def _snapped_v_init(v_init, leak, snapped_leak, unit: float):
    """The initial potential whose exact decay is the chip's first-step start.

    The chip's v0 decays to n whole units (``fx.initial_potential``); the twin multiplies
    v_init by its leak exactly, so it gets n * unit / leak. Quantising it again gives the same
    n (snapping stays idempotent); without a leak it is the plain grid value."""
    n = fx.initial_units(v_init, leak, unit).to(torch.float64)
    value = n * unit / torch.as_tensor(snapped_leak, dtype=torch.float64)
    if not isinstance(v_init, torch.Tensor) and value.dim() == 0:
        return float(value)
    dtype = v_init.dtype if isinstance(v_init, torch.Tensor) else torch.float32
    return value.to(dtype)


def _snapped_neuron(n, fs: fx.FixedStage):
    dv = fx.decay_constant(n.leak.detach().to(torch.float64)
                           if isinstance(n.leak, torch.Tensor) else float(n.leak))
    leak = 1.0 - dv / (1 << fx.DECAY_BITS)
    if isinstance(leak, torch.Tensor):
        leak = leak.to(n.leak.dtype)
    changes = {"leak": leak, "v_init": _snapped_v_init(n.v_init, n.leak, leak, fs.unit)}
    if n.current_leak:
        changes["current_leak"] = 1.0 - fs.du / (1 << fx.DECAY_BITS)
    if isinstance(n, S.LIF):
        changes["threshold"] = _snap_scalar(n.threshold, fs.unit, 1, fx.VTH_MANT_MAX,
                                            above=TIE_BREAK)
    return dataclasses.replace(n, **changes)


def _snapped_biases(spec: S.NetworkSpec, population: dict[int, int],
                    units: dict[int, float], currents: dict[int, torch.Tensor]
                    ) -> dict[int, torch.Tensor | None]:
    """Per weighted layer its bias on the grid of its population's unit. The groups of one
    population share one bias register: their biases are summed, rounded once, and put on the
    first group that has one (the others get none), as the chip holds them. A population with
    an input offset's current c (``_offset_currents``) holds bias + c in that register, so its
    bias becomes grid(bias + c) - c."""
    out: dict[int, torch.Tensor | None] = {}
    for target in sorted(set(population.values())):
        members = [i for i, p in population.items() if p == target]
        biased = [i for i in members if spec.layers[i].bias is not None]
        for i in members:
            out[i] = None
        current = currents.get(target)
        if not biased and current is None:
            continue
        holder = biased[0] if biased else members[0]
        like = spec.layers[holder].bias if biased else spec.layers[holder].weight
        total = sum(spec.layers[i].bias.detach().to(torch.float64).reshape(-1) for i in biased)
        if current is None:
            out[holder] = _grid(total, units[target]).to(like.dtype)
        else:
            out[holder] = (_grid(total + current, units[target]) - current).to(like.dtype)
    return out


def _offset_currents(spec: S.NetworkSpec, fixed: fx.FixedNetwork) -> dict[int, torch.Tensor]:
    """The input offset's current per neuron of the first population (flat, per channel for a
    convolution), for ``_snapped_biases``; ``spec`` has its weights snapped.

    With an input lattice x = offset + step * p the chip receives p; the offset's current
    (offset times the weights a neuron sees) joins its bias mantissa, rounded once per neuron
    (``fx._encoded_first_stage``). The twin receives x and adds that current to its own bias
    in float, so its bias must be the register's value less the current: exact for a dense
    layer (a bias per neuron) and, for a convolution (a bias per channel), for the neurons
    whose receptive field has the channel's most common current (those away from a padded
    border); the others keep an error below half a unit."""
    encoding = fixed.encoding
    if not bool((encoding.offset != 0).any()):
        return {}
    stage = to_stages(spec)[0]
    offset = encoding.per_channel(encoding.offset, stage.input_shape)[None]
    current = stage.synapse(offset.to(torch.float64))[0].reshape(stage.output_shape)
    if stage.kind == "conv":  # the most common current of each channel's neurons
        current = torch.stack([c.flatten().mode().values for c in current])
    return {stage.layer_index: current.reshape(-1)}


def snap_to_fixed_point(spec: S.NetworkSpec, calibration: torch.Tensor | None = None, *,
                        input_range: float | None = None, input_bits: int = 8
                        ) -> tuple[S.NetworkSpec, fx.FixedNetwork]:
    """(the spec on the fixed-point grid, its FixedNetwork). ``calibration`` inputs (or an
    ``input_range``) choose the input encoding, as in ``quantize``.

    A residual graph is snapped as ``explicit_groups`` writes it, one weighted node per synapse
    group (a spike shortcut a 1x1 identity convolution, a layer after a SEW sum one copy of
    its weights per summed train), since each group's weights land on the grid on their own."""
    spec = explicit_groups(spec)
    fixed = fx.quantize(to_stages(spec), calibration, timesteps=spec.timesteps,
                        input_range=input_range, input_bits=input_bits)
    by_layer = {fs.stage.layer_index: fs for fs in fixed.stages if not fs.stage.relay}
    population = _population(spec)
    layers = []
    for i, layer in enumerate(spec.layers):
        changes = {}
        if isinstance(layer, S.WEIGHTED):
            fs = by_layer[population[i]]
            step = 2 * (1 << fs.weight_exp) * fs.unit   # real value of one mantissa step
            factor = _weight_factor(spec, i, fixed.encoding)
            w = layer.weight.detach().to(torch.float64)
            mant = torch.round(w * factor / step).clamp(-fx.WEIGHT_MANT_MAX - 1,
                                                        fx.WEIGHT_MANT_MAX)
            changes = {"weight": (mant * step / factor).to(layer.weight.dtype)}
        if getattr(layer, "neuron", None) is not None:
            changes["neuron"] = _snapped_neuron(layer.neuron, by_layer[i])
        layers.append(dataclasses.replace(layer, **changes) if changes else layer)
    # biases last: the input offset's current is that of the snapped weights
    currents = _offset_currents(dataclasses.replace(spec, layers=layers), fixed)
    biases = _snapped_biases(spec, population,
                             {i: by_layer[i].unit for i in set(population.values())}, currents)
    layers = [dataclasses.replace(layer, bias=biases[i]) if i in biases else layer
              for i, layer in enumerate(layers)]
    metadata = {**spec.metadata, "fixed_point": {
        "snapped": True, "input_bits": input_bits,
        "layers": [r.as_dict() for r in fixed.report]}}
    snapped = dataclasses.replace(spec, layers=layers, metadata=metadata)
    S.validate(snapped)
    return snapped, fixed


@dataclasses.dataclass(eq=False)
class WeightGrid:
    """The Loihi weight grid of one weighted spec layer, in the spec's own units, as
    ``snap_to_fixed_point`` would put it: an 8-bit mantissa m (-128..127) per weight,
    w = m * 2 * unit / factor, with ``unit = max(peak / 254, floor)``, where ``peak`` is the
    largest |w * factor| over every layer whose synapses drive the same population
    (``population``: one layer in a chain, a residual block's groups in a graph). ``factor`` is
    what the hardware stage multiplies the spec weights by (the source's amplitude, folded
    average pools, the first layer's input step); ``floor`` is the coarsest unit the
    population's thresholds (17 bits) and biases (13 bits) allow. Quantisation-aware training
    keeps the weights on this grid while it learns."""

    layer_index: int
    factor: torch.Tensor   # float64, broadcastable to the layer's weight
    floor: float
    population: int = -1   # the node whose neurons the layer drives (-1: its own)

    def peak(self, weight: torch.Tensor) -> torch.Tensor:
        """The largest |weight * factor|: what sets the unit (with the population's others)."""
        return (weight.detach().to(torch.float64) * self.factor.to(weight.device)).abs().max()

    def unit(self, weight: torch.Tensor, peak: torch.Tensor | None = None) -> torch.Tensor:
        """The weight unit for ``weight`` alone, or for the population's largest ``peak``."""
        peak = self.peak(weight) if peak is None else peak
        return torch.clamp(peak / (2 * fx.WEIGHT_MANT_MAX), min=self.floor)

    def mantissas(self, weight: torch.Tensor, peak: torch.Tensor | None = None
                  ) -> torch.Tensor:
        """The integer mantissas the chip would store for ``weight`` (float64)."""
        step = 2 * self.unit(weight, peak) / self.factor.to(weight.device)
        return torch.round(weight.detach().to(torch.float64) / step).clamp(
            -fx.WEIGHT_MANT_MAX - 1, fx.WEIGHT_MANT_MAX)

    def on_grid(self, weight: torch.Tensor, peak: torch.Tensor | None = None) -> torch.Tensor:
        """``weight`` moved to the nearest grid point (same dtype)."""
        step = 2 * self.unit(weight, peak) / self.factor.to(weight.device)
        return (self.mantissas(weight, peak) * step).to(weight.dtype)


def weight_grids(spec: S.NetworkSpec, calibration: torch.Tensor | None = None, *,
                 input_range: float | None = None, input_bits: int = 8) -> dict[int, WeightGrid]:
    """Per weighted spec layer, the grid its weights land on in Loihi fixed point (see
    ``WeightGrid``); the calibration inputs choose the input encoding, as in ``quantize``.
    A residual graph must have its synapse groups as nodes (``explicit_groups``): a group
    without weights of its own has no grid to train on."""
    if explicit_groups(spec) is not spec:
        raise SpecError("this residual graph has synapse groups without weights of their own "
                        "(a spike shortcut, or a layer after a SEW sum); write it with "
                        "leanspike.loihi.explicit_groups first, so that each group's weights "
                        "have a grid")
    stages = {st.layer_index: (k, st) for k, st in enumerate(to_stages(spec)) if not st.relay}
    first_stage = next(iter(stages.values()))[1]
    encoding = fx.input_encoding(calibration, first_stage.input_shape, input_bits,
                                 input_range)
    population = _population(spec)
    grids = {}
    for i, _ in spec.weighted_layers():
        k, stage = stages[population[i]]
        if k == 0:
            stage = fx._encoded_first_stage(stage, encoding)
        th = stage.threshold
        bias = stage.bias + (stage.leak * stage.v_init if spec.timesteps == 1 else 0.0)
        floor = max(float(th.max()) / fx.VTH_MANT_MAX if th is not None else 0.0,
                    float(bias.abs().max()) / fx.BIAS_MANT_MAX,
                    fx.current_headroom(stage, encoding, calibration) if k == 0 else 0.0)
        factor = _weight_factor(spec, i, encoding)
        grids[i] = WeightGrid(i, torch.as_tensor(factor, dtype=torch.float64), floor,
                              population[i])
    return grids
