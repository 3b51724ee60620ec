"""A spec moved onto the Loihi 2 fixed-point grid, so that its float twin and the chip agree.

Quantisation changes some decisions (an 8-bit weight moves a potential across a threshold), so
a fixed-point deployment cannot be checked against the float network it came from: the two are
different networks. ``snap_to_fixed_point`` returns the network the chip actually runs, as a
spec: every weight, threshold, bias, initial potential and leak replaced by the real value of
its integer on Loihi. Its snnTorch model is the deployment's twin (same decisions up to float
rounding), its accuracy is the quantised accuracy, and quantising it again gives the same
integers (snapping is idempotent).

What stays approximate: a first layer whose input lattice has a non-zero offset (the offset's
current is folded into a per-neuron bias on chip, a per-channel bias in the spec), and leaks
below 1 and current decays (snnTorch Synaptic's alpha) at T > 1 (Loihi's decay rounds toward
zero each step).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from leanspike import spec as S
from leanspike.errors import SpecError
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.stages import to_stages


def _grid(value: torch.Tensor, step: torch.Tensor | float) -> torch.Tensor:
    return torch.round(value / step) * step


def _snap_scalar(value, unit: float, lowest: int | None = None, highest: int | None = None):
    """A threshold/initial potential (float or per-neuron tensor) on the weight-unit grid,
    its mantissa clipped to [lowest, highest] as ``quantize`` clips it (a threshold is at
    least one unit: below half a unit it would round to zero, which no spec allows)."""
    if isinstance(value, torch.Tensor):
        mant = torch.round(value.detach().to(torch.float64) / unit)
        if lowest is not None or highest is not None:
            mant = mant.clamp(lowest, highest)
        return (mant * unit).to(value.dtype)
    mant = round(float(value) / unit)
    mant = max(mant, lowest) if lowest is not None else mant
    mant = min(mant, highest) if highest is not None else mant
    return float(mant * unit)


def _weight_factor(spec: S.NetworkSpec, index: int, amplitude: float,
                   encoding: fx.InputEncoding | None) -> torch.Tensor | float:
    """What the hardware stage multiplies layer ``index``'s spec weights by: the previous
    layer's spike amplitude, 1/area of each average pool folded in, and for the first layer
    the input encoding's step (per input channel)."""
    factor = amplitude
    for layer in reversed(spec.layers[:index]):
        if isinstance(layer, S.WEIGHTED):
            break
        if isinstance(layer, S.AVG_POOLS):
            factor /= math.prod(layer.kernel_size)
    if encoding is None:
        return factor
    weight = spec.layers[index].weight
    step = encoding.step.to(torch.float64)
    if weight.dim() >= 3:  # conv (1-D or 2-D): per input channel
        return factor * step.reshape(1, -1, *([1] * (weight.dim() - 2)))
    channels = step.numel()
    per_input = step.repeat_interleave(weight.shape[1] // channels) if channels > 1 else step
    return factor * per_input.reshape(1, -1)


def _refuse_graph(spec: S.NetworkSpec) -> None:
    """A graph's populations take several synapse groups in one weight unit: a spike
    shortcut's unit synapses become round(amplitude / unit), which the spec cannot hold apart
    from the amplitude its other consumers see, so its grid is not a spec yet."""
    if spec.is_graph:
        first = next(i for i, layer in enumerate(spec.layers)
                     if isinstance(layer, S.Add) or spec.inputs_of(i) != (i - 1,))
        raise SpecError(f"layers[{first}] ({type(spec.layers[first]).__name__}) makes this "
                        f"spec a residual graph, whose fixed-point grid is not a spec yet "
                        f"(a spike shortcut's unit synapses are quantised in the unit of the "
                        f"population they join). Quantise its stages instead "
                        f"(leanspike.loihi.quantize) and compare Lava with their emulation "
                        f"(leanspike.loihi.emulate_fixed), which is exact")


def snap_to_fixed_point(spec: S.NetworkSpec, calibration: torch.Tensor | None = None, *,
                        input_range: float | None = None, input_bits: int = 8
                        ) -> tuple[S.NetworkSpec, fx.FixedNetwork]:
    """(the spec on the fixed-point grid, its FixedNetwork). ``calibration`` inputs (or an
    ``input_range``) choose the input encoding, as in ``quantize``."""
    _refuse_graph(spec)
    fixed = fx.quantize(to_stages(spec), calibration, timesteps=spec.timesteps,
                        input_range=input_range, input_bits=input_bits)
    by_layer = {fs.stage.layer_index: fs for fs in fixed.stages}
    layers, amplitude, first = [], 1.0, True
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, S.WEIGHTED):
            layers.append(layer)
            continue
        fs = by_layer[i]
        step = 2 * (1 << fs.weight_exp) * fs.unit   # real value of one mantissa step
        factor = _weight_factor(spec, i, amplitude, fixed.encoding if first else None)
        w = layer.weight.detach().to(torch.float64)
        mant = torch.round(w * factor / step).clamp(-fx.WEIGHT_MANT_MAX - 1, fx.WEIGHT_MANT_MAX)
        weight = (mant * step / factor).to(layer.weight.dtype)
        bias = None if layer.bias is None else \
            _grid(layer.bias.detach().to(torch.float64), fs.unit).to(layer.bias.dtype)
        n = layer.neuron
        dv = fx.decay_constant(n.leak.detach().to(torch.float64)
                               if isinstance(n.leak, torch.Tensor) else float(n.leak))
        leak = 1.0 - dv / (1 << fx.DECAY_BITS)
        if isinstance(leak, torch.Tensor):
            leak = leak.to(n.leak.dtype)
        changes = {"leak": leak, "v_init": _snap_scalar(n.v_init, fs.unit)}
        if n.current_leak:
            changes["current_leak"] = 1.0 - fs.du / (1 << fx.DECAY_BITS)
        if isinstance(n, S.LIF):
            changes["threshold"] = _snap_scalar(n.threshold, fs.unit, 1, fx.VTH_MANT_MAX)
            amplitude = float(n.amplitude)
        else:
            amplitude = 1.0
        layers.append(dataclasses.replace(layer, weight=weight, bias=bias,
                                          neuron=dataclasses.replace(n, **changes)))
        first = False
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
    w = m * 2 * unit / factor, with ``unit = max(max|w * factor| / 254, floor)``. ``factor`` is
    what the hardware stage multiplies the spec weights by (the previous layer's amplitude,
    folded average pools, the first layer's input step); ``floor`` is the coarsest unit the
    layer's thresholds (17 bits) and biases (13 bits) allow. Quantisation-aware training
    keeps the weights on this grid while it learns."""

    layer_index: int
    factor: torch.Tensor   # float64, broadcastable to the layer's weight
    floor: float

    def unit(self, weight: torch.Tensor) -> torch.Tensor:
        w_max = (weight.detach().to(torch.float64) * self.factor.to(weight.device)).abs().max()
        return torch.clamp(w_max / (2 * fx.WEIGHT_MANT_MAX), min=self.floor)

    def mantissas(self, weight: torch.Tensor) -> torch.Tensor:
        """The integer mantissas the chip would store for ``weight`` (float64)."""
        step = 2 * self.unit(weight) / self.factor.to(weight.device)
        return torch.round(weight.detach().to(torch.float64) / step).clamp(
            -fx.WEIGHT_MANT_MAX - 1, fx.WEIGHT_MANT_MAX)

    def on_grid(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight`` moved to the nearest grid point (same dtype)."""
        step = 2 * self.unit(weight) / self.factor.to(weight.device)
        return (self.mantissas(weight) * step).to(weight.dtype)


def weight_grids(spec: S.NetworkSpec, calibration: torch.Tensor | None = None, *,
                 input_range: float | None = None, input_bits: int = 8) -> dict[int, WeightGrid]:
    """Per weighted spec layer, the grid its weights land on in Loihi fixed point (see
    ``WeightGrid``); the calibration inputs choose the input encoding, as in ``quantize``."""
    _refuse_graph(spec)
    stages = [st for st in to_stages(spec) if st.layer_index in dict(spec.weighted_layers())]
    encoding = fx.input_encoding(calibration, stages[0].input_shape, input_bits, input_range)
    grids, amplitude = {}, 1.0
    for k, (i, layer) in enumerate(spec.weighted_layers()):
        stage = stages[k]
        if k == 0:
            stage = fx._encoded_first_stage(stage, encoding)
        th = stage.threshold
        bias = stage.bias + (stage.leak * stage.v_init if spec.timesteps == 1 else 0.0)
        floor = max(float(th.max()) / fx.VTH_MANT_MAX if th is not None else 0.0,
                    float(bias.abs().max()) / fx.BIAS_MANT_MAX,
                    fx.current_headroom(stage, encoding, calibration) if k == 0 else 0.0)
        factor = _weight_factor(spec, i, amplitude, encoding if k == 0 else None)
        grids[i] = WeightGrid(i, torch.as_tensor(factor, dtype=torch.float64), floor)
        amplitude = float(layer.neuron.amplitude) if isinstance(layer.neuron, S.LIF) else 1.0
    return grids
