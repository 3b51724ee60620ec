"""The network spec: the one description of a feed-forward SNN that training and deployment share.

A spec is framework-neutral: torch tensors and plain numbers, no snnTorch, no Lava. Each adapter
realises exactly the dynamics defined here (see ``leanspike.reference`` for the executable
definition), so neither snnTorch's nor Lava's defaults are the definition.

Discrete-time semantics, for t = 1..T, with the input presented directly at every step:

    I[t] = W_eff * x[t] + b                  (W_eff = weight * mask; conv (1-D or 2-D) or dense)
    i[t] = current_leak * i[t-1] + I[t]       (i[0] = 0; current_leak = 0 gives i[t] = I[t])
    u[t] = leak * u[t-1] + i[t]               (u[0] = v_init)
    s[t] = u[t] > threshold                   (LIF layers only; strict, as Lava and snnTorch)
    u[t] = u[t] - threshold * s[t]            (reset "subtract"),  u[t] * (1 - s[t])  ("zero"),
                                              or u[t] as it is  ("none": fires while above)
    x'[t] = amplitude * s[t]                  (what the next layer receives)

The last weighted layer is the readout. An ``Integrator`` never spikes and its membrane
potential after T steps is the network's output (the logits); a ``LIF`` output layer spikes
like any other and its spike count, sum_t amplitude * s[t], is the output (the readout of a
model trained with snnTorch's spike-count losses, e.g. ``ce_rate_loss``). Pooling and flatten
act on each step's output of the layer before them (unpadded windows, floor mode); the 1-D
layers (Conv1d, AvgPool1d, MaxPool1d) are their 2-D namesakes on (C, L) signals:

    AvgPool2d:  the mean over each window
    MaxPool2d:  the max over each window. After a LIF layer that output is amplitude * s, so
                the max is exactly amplitude * (OR of the window's spikes) at every step: a
                max-pooled spike is a spike. Directly on the analog input (before any neuron)
                it is a real max; the spec allows it and snnTorch computes it, but Loihi
                receives the input as graded spikes and has no max of them, so deploying such
                a spec is refused (``leanspike.loihi.to_stages``), as is a max of averages
                (MaxPool2d after AvgPool2d).

On disk a spec is a folder: ``spec.json`` (structure, scalars, format version, the sha256 of the
weights) and ``weights.safetensors`` (every tensor, bit for bit). The format version written is
the lowest that expresses the spec: 1 without max pooling (byte for byte what earlier releases
wrote and read), 2 with it, 3 with a spiking readout, so that a leanspike that knows neither
says "written by a newer leanspike" instead of misreading the file. Version 4 adds a neuron's
``current_leak`` (the synaptic current state of a current-based LIF, snnTorch's ``Synaptic``
``alpha``; never reset by a spike); a neuron without one (current_leak == 0) writes no such
field, so every spec that does not use it is written as before. Version 5 adds what snnTorch's
Leaky also allows: a per-neuron ``leak`` (a tensor, as thresholds may be) and reset "none".
Version 6 adds the 1-D layers. The input may be a flat vector (F,), a 1-D signal (C, L) or an
image (C, H, W); a spec needs no Flatten when its input is already flat.

A spec is a graph (version 7): every layer is a node that may name its ``inputs`` (indices of
earlier layers, ``INPUT`` = -1 for the network's input; by default the layer before it, so a
chain names none and is written as before) and carry a ``name``. Nodes are listed in an order
in which every input comes first, so a cycle cannot be written; the last node is the one
output and every other node feeds some later one. ``Add`` sums its inputs element-wise, and the
two residual styles are two uses of it:

    spiking / converted ResNet (the shortcut adds to the *current*): an Add that carries the
        neuron. Its inputs are the block's last weighted layer *without* a neuron (its current
        W x + b) and the shortcut (a 1x1 convolution without a neuron, or the block's input
        spikes as they are, unit weights). The population integrates the sum:
        I[t] = sum of the inputs' outputs, then the neuron dynamics above.
    SEW ResNet with ADD (the shortcut adds *spikes*): an Add without a neuron. Its inputs are
        spike trains (LIF layers, max pools of spikes, other such sums) and its output is their
        sum, amplitude * s_a + amplitude * s_b, which the next weighted layer receives.

Both are exact on synapses that sum: each input of an Add is a synapse group of its own into
the same population (``leanspike.loihi.stages``), and a sum of synaptic currents is what a
neuron receives anyway, in float and in integers alike. A weighted layer without a neuron
exists only to feed Adds that carry one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch

from leanspike.atomic import atomic_write
from leanspike.errors import SpecError, SpecFileError

FORMAT_NAME = "leanspike.spec"
FORMAT_VERSION = 7  # the newest version this leanspike reads and writes
SPIKING_READOUT_SINCE = 3  # the format version that introduced a LIF output layer
CURRENT_LEAK_SINCE = 4  # the format version that introduced a neuron's current_leak
NEURON_OPTIONS_SINCE = 5  # the format version of per-neuron leaks and reset "none"
ANY_RANK_SINCE = 6  # 1-D layers, (C, L) inputs, Flatten of any rank
GRAPH_SINCE = 7  # named nodes with their inputs, Add, weighted layers without neurons
# the format version that introduced each layer type added after version 1
LAYER_SINCE = {"MaxPool2d": 2, "Conv1d": ANY_RANK_SINCE, "AvgPool1d": ANY_RANK_SINCE,
               "MaxPool1d": ANY_RANK_SINCE, "Add": GRAPH_SINCE}
SPEC_FILE = "spec.json"
WEIGHTS_FILE = "weights.safetensors"
RESET_MODES = ("subtract", "zero", "none")
ENCODINGS = ("direct",)

Scalar = Union[float, torch.Tensor]
INPUT = -1  # the index that stands for the network's input among a node's inputs


@dataclass(eq=False)
class LIF:
    """A spiking neuron population after a weighted layer (IF when leak == 1); current-based
    (snnTorch's Synaptic, Loihi's CUBA current) when current_leak > 0."""

    threshold: Scalar = 1.0
    leak: Scalar = 1.0         # a number, or one per neuron (a tensor broadcast to the layer)
    reset: str = "subtract"
    amplitude: float = 1.0
    v_init: Scalar = 0.0
    current_leak: float = 0.0  # decay of the synaptic current state; 0: none (I feeds u)


@dataclass(eq=False)
class Integrator:
    """The output population: integrates its input and never spikes; u[T] is the logit."""

    leak: Scalar = 1.0
    v_init: Scalar = 0.0
    current_leak: float = 0.0  # as LIF's: the output of a current-based (Synaptic) model


Neuron = Union[LIF, Integrator]


@dataclass(eq=False)
class _Node:
    """What every layer has as a node of the graph: where its input comes from (None: the
    layer before it, or the network's input for the first) and an optional name. Keyword-only,
    so that every layer's own fields keep their positions."""

    inputs: tuple[int, ...] | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class Linear(_Node):
    weight: torch.Tensor  # [out_features, in_features]
    bias: torch.Tensor | None = None
    mask: torch.Tensor | None = None  # 0/1, same shape as weight
    neuron: Neuron | None = None


@dataclass(eq=False)
class Conv2d(_Node):
    weight: torch.Tensor  # [out_channels, in_channels, kernel_h, kernel_w]
    bias: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    neuron: Neuron | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


@dataclass(eq=False)
class AvgPool2d(_Node):
    kernel_size: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)


@dataclass(eq=False)
class MaxPool2d(_Node):
    """The max over each window; of a LIF layer's output, amplitude * OR of the spikes."""

    kernel_size: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)


@dataclass(eq=False)
class Conv1d(_Node):
    """A convolution over a (C, L) signal: Conv2d's 1-D namesake."""

    weight: torch.Tensor  # [out_channels, in_channels, kernel]
    bias: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    neuron: Neuron | None = None
    stride: tuple[int] = (1,)
    padding: tuple[int] = (0,)


@dataclass(eq=False)
class AvgPool1d(_Node):
    kernel_size: tuple[int] = (2,)
    stride: tuple[int] = (2,)


@dataclass(eq=False)
class MaxPool1d(_Node):
    """The max over each window of a (C, L) signal; of spikes, an OR, as MaxPool2d's."""

    kernel_size: tuple[int] = (2,)
    stride: tuple[int] = (2,)


CONVS = (Conv1d, Conv2d)
AVG_POOLS = (AvgPool1d, AvgPool2d)
MAX_POOLS = (MaxPool1d, MaxPool2d)
POOLS = (*AVG_POOLS, *MAX_POOLS)
# how many spatial dimensions each convolution and pooling layer works over
SPATIAL_DIMS = {Conv1d: 1, AvgPool1d: 1, MaxPool1d: 1, Conv2d: 2, AvgPool2d: 2, MaxPool2d: 2}


@dataclass(eq=False)
class Flatten(_Node):
    """Flattens its input (any rank) to one dimension in row-major (torch) order."""


@dataclass(eq=False)
class Add(_Node):
    """The element-wise sum of two or more inputs of one shape: with a neuron, the sum is the
    population's input current (a spiking ResNet's block output); without one, the sum itself
    is the output (SEW ResNet's ADD of spike trains). See the module docstring."""

    neuron: Neuron | None = None


Layer = Union[Linear, Conv1d, Conv2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Flatten, Add]
WEIGHTED = (Linear, Conv1d, Conv2d)
LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Linear, Conv1d, Conv2d, AvgPool1d, AvgPool2d, MaxPool1d,
                                  MaxPool2d, Flatten, Add)
}
NEURON_TYPES: dict[str, type] = {cls.__name__: cls for cls in (LIF, Integrator)}


@dataclass(eq=False)
class NetworkSpec:
    """A feed-forward SNN: layers in order, the input shape (C, H, W), (C, L) or (F,), time
    steps T."""

    input_shape: tuple[int, ...]
    layers: list[Layer]
    timesteps: int
    encoding: str = "direct"
    metadata: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> NetworkSpec:
        """Raise SpecError naming the layer and field if anything is inconsistent."""
        validate(self)
        return self

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """Output shape of every layer (without batch), checking that the shapes chain."""
        return _infer_shapes(self)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layer_shapes()[-1]

    @property
    def spiking_readout(self) -> bool:
        """The output is the last layer's spike count (a LIF output layer), not its
        membrane potential (an Integrator)."""
        last = next((layer for layer in reversed(self.layers)
                     if getattr(layer, "neuron", None) is not None), None)
        return isinstance(getattr(last, "neuron", None), LIF)

    def weighted_layers(self) -> Iterator[tuple[int, Linear | Conv1d | Conv2d]]:
        return ((i, layer) for i, layer in enumerate(self.layers) if isinstance(layer, WEIGHTED))

    def neuron_layers(self) -> list[int]:
        """Indices of the layers that carry a neuron population (weighted layers and Adds)."""
        return [i for i, layer in enumerate(self.layers)
                if getattr(layer, "neuron", None) is not None]

    def inputs_of(self, index: int) -> tuple[int, ...]:
        """Where layer ``index`` takes its input from: earlier layer indices, ``INPUT`` (-1)
        for the network's input."""
        return inputs_of(self.layers, index)

    def consumers(self) -> dict[int, list[int]]:
        """For every layer (and ``INPUT``), the layers that take its output, in order."""
        out: dict[int, list[int]] = {i: [] for i in range(INPUT, len(self.layers))}
        for i in range(len(self.layers)):
            for j in self.inputs_of(i):
                if j in out and i not in out[j]:
                    out[j].append(i)
        return out

    @property
    def is_graph(self) -> bool:
        """Anything but a chain: an Add, or a layer whose input is not the layer before it."""
        return any(isinstance(layer, Add) or self.inputs_of(i) != (i - 1,)
                   for i, layer in enumerate(self.layers))

    def spiking_layers(self) -> list[int]:
        """Indices of the layers whose output is spikes: layers with LIF neurons (weighted
        layers and Adds), and max pooling of spikes (of a LIF layer or of another such pool)."""
        out: list[int] = []
        for i, layer in enumerate(self.layers):
            if isinstance(getattr(layer, "neuron", None), LIF):
                out.append(i)
            elif isinstance(layer, MAX_POOLS) and self.inputs_of(i)[0] in out:
                out.append(i)
        return out

    def save(self, directory: str | os.PathLike) -> Path:
        return save_spec(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> NetworkSpec:
        return load_spec(directory)

    def identical(self, other: NetworkSpec) -> bool:
        """Bit-for-bit equality: structure, scalars, tensor dtypes, shapes and bytes."""
        a_json, a_tensors = _to_document(self)
        b_json, b_tensors = _to_document(other)
        if a_json != b_json or a_tensors.keys() != b_tensors.keys():
            return False
        return all(_bitwise_equal(a_tensors[k], b_tensors[k]) for k in a_tensors)

    def copy(self) -> NetworkSpec:
        return copy.deepcopy(self)


# ---------------------------------------------------------------------------------------------
# validation


def _where(index: int | None, layer: Any = None, field_name: str | None = None) -> str:
    if index is None:
        return f"spec.{field_name}" if field_name else "spec"
    name = getattr(layer, "name", None)
    label = type(layer).__name__ + (f" {name!r}" if isinstance(name, str) else "")
    place = f"layers[{index}] ({label})"
    return f"{place}.{field_name}" if field_name else place


def _check_tensor(t: Any, where: str, *, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise SpecError(f"{where}: expected a tensor, got {type(t).__name__}")
    if ndim is not None and t.dim() != ndim:
        raise SpecError(f"{where}: expected {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.is_floating_point():
        if not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise SpecError(f"{where}: {bad} non-finite value(s) (NaN or inf)")
    elif t.dtype not in (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32,
                         torch.int64):
        raise SpecError(f"{where}: unsupported dtype {t.dtype}")
    return t


def _check_scalar_or_tensor(value: Any, where: str, out_shape: tuple[int, ...]) -> None:
    if isinstance(value, torch.Tensor):
        _check_tensor(value, where)
        if not value.is_floating_point():
            raise SpecError(f"{where}: expected a floating-point tensor, got {value.dtype}")
        try:
            ok = torch.broadcast_shapes(tuple(value.shape), out_shape) == out_shape
        except RuntimeError:
            ok = False
        if not ok:
            raise SpecError(
                f"{where}: shape {tuple(value.shape)} does not broadcast to the layer's "
                f"output shape {out_shape}"
            )
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: expected a number or a tensor, got {type(value).__name__}")
    elif not math.isfinite(value):
        raise SpecError(f"{where}: not finite ({value})")


def _check_number(value: Any, where: str, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise SpecError(f"{where}: not finite ({value})")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise SpecError(f"{where}: must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise SpecError(f"{where}: must be <= {hi}, got {value}")


def _check_pair(value: Any, where: str, minimum: int, n: int = 2) -> None:
    """A tuple of ``n`` integers (a pair for 2-D layers, one for 1-D)."""
    if (not isinstance(value, tuple) or len(value) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        what = "a pair of integers" if n == 2 else f"a tuple of {n} integer(s)"
        raise SpecError(f"{where}: expected {what}, got {value!r}")
    if min(value) < minimum:
        raise SpecError(f"{where}: values must be >= {minimum}, got {value}")


def _check_neuron(i: int, layer: Layer, out_shape: tuple[int, ...], is_last: bool) -> None:
    neuron = layer.neuron
    where = _where(i, layer, "neuron")
    if is_last and not isinstance(neuron, (Integrator, LIF)):
        raise SpecError(
            f"{where}: the last weighted layer must have an Integrator neuron (its membrane "
            f"potential is the output) or a LIF neuron (its spike count is), got "
            f"{type(neuron).__name__}"
        )
    if not is_last and not isinstance(neuron, LIF):
        raise SpecError(
            f"{where}: every layer with a neuron but the last must have a LIF neuron, "
            f"got {type(neuron).__name__}"
        )
    if isinstance(neuron.leak, torch.Tensor):
        _check_scalar_or_tensor(neuron.leak, f"{where}.leak", out_shape)
        if not bool(((neuron.leak >= 0) & (neuron.leak <= 1)).all()):
            raise SpecError(f"{where}.leak: every leak must be in [0, 1], got "
                            f"{float(neuron.leak.min())}..{float(neuron.leak.max())}")
    else:
        _check_number(neuron.leak, f"{where}.leak", 0.0, 1.0)
    _check_number(neuron.current_leak, f"{where}.current_leak", 0.0, 1.0)
    _check_scalar_or_tensor(neuron.v_init, f"{where}.v_init", out_shape)
    if isinstance(neuron, LIF):
        _check_scalar_or_tensor(neuron.threshold, f"{where}.threshold", out_shape)
        th = neuron.threshold
        th_min = float(th.min()) if isinstance(th, torch.Tensor) else th
        if th_min <= 0:
            raise SpecError(f"{where}.threshold: must be > 0, got minimum {th_min}")
        if neuron.reset not in RESET_MODES:
            raise SpecError(f"{where}.reset: must be one of {RESET_MODES}, got {neuron.reset!r}")
        _check_number(neuron.amplitude, f"{where}.amplitude", 0.0, lo_open=True)


def _check_rank(shape: tuple[int, ...], spatial: int, where: str) -> None:
    if len(shape) != spatial + 1:
        want = "(C, H, W)" if spatial == 2 else "(C, L)"
        raise SpecError(f"{where}: needs a {want} input, got shape {shape}")


def inputs_of(layers: list, index: int) -> tuple[int, ...]:
    """Layer ``index``'s inputs: its own, or by default the layer before it (``INPUT`` for the
    first)."""
    own = getattr(layers[index], "inputs", None)
    return (index - 1,) if own is None else tuple(own)


def _source(spec: NetworkSpec, j: int) -> str:
    """How an error message names an input: the network input, or the layer."""
    if j == INPUT:
        return "the network input"
    return "the previous layer" if not spec.is_graph else _where(j, spec.layers[j])


def _check_inputs(spec: NetworkSpec, i: int, layer: Layer) -> tuple[int, ...]:
    where = _where(i, layer, "inputs")
    own = layer.inputs
    if own is not None and (not isinstance(own, tuple) or not all(
            isinstance(j, int) and not isinstance(j, bool) for j in own)):
        raise SpecError(f"{where}: expected a tuple of layer indices, got {own!r}")
    ins = inputs_of(spec.layers, i)
    for j in ins:
        if j >= i:
            raise SpecError(f"{where}: input {j} is not an earlier layer; a spec lists every "
                            f"node after its inputs (so no cycle can be written)")
        if j < INPUT:
            raise SpecError(f"{where}: input {j} is not a layer index (use {INPUT} for the "
                            f"network input)")
    if isinstance(layer, Add):
        if len(ins) < 2:
            raise SpecError(f"{where}: an Add sums two or more inputs, got {list(ins)}")
    elif len(ins) != 1:
        raise SpecError(f"{where}: a {type(layer).__name__} takes one input, got {list(ins)} "
                        f"(sum several with an Add)")
    name = layer.name
    if name is not None and (not isinstance(name, str) or not name):
        raise SpecError(f"{_where(i, layer, 'name')}: expected a non-empty string, got {name!r}")
    return ins


def _infer_shapes(spec: NetworkSpec) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    for i, layer in enumerate(spec.layers):
        where = _where(i, layer)
        if not isinstance(layer, tuple(LAYER_TYPES.values())):
            raise SpecError(f"{where}: unknown layer type; known: {', '.join(LAYER_TYPES)}")
        ins = _check_inputs(spec, i, layer)
        shape = tuple(spec.input_shape) if ins[0] == INPUT else shapes[ins[0]]
        gives = _source(spec, ins[0])
        if isinstance(layer, Add):
            for j in ins[1:]:
                other = tuple(spec.input_shape) if j == INPUT else shapes[j]
                if other != shape:
                    raise SpecError(f"{where}: its inputs differ in shape: {_source(spec, ins[0])}"
                                    f" gives {shape}, {_source(spec, j)} gives {other}")
        elif isinstance(layer, Linear):
            w = _check_tensor(layer.weight, f"{where}.weight", ndim=2)
            if len(shape) != 1:
                raise SpecError(f"{where}: needs a flat input, got shape {shape} (add a Flatten)")
            if w.shape[1] != shape[0]:
                raise SpecError(
                    f"{where}.weight: shape {tuple(w.shape)} expects {w.shape[1]} inputs, "
                    f"but {gives} gives {shape[0]}"
                )
            shape = (w.shape[0],)
        elif isinstance(layer, CONVS):
            n = SPATIAL_DIMS[type(layer)]
            w = _check_tensor(layer.weight, f"{where}.weight", ndim=n + 2)
            _check_pair(layer.stride, f"{where}.stride", 1, n)
            _check_pair(layer.padding, f"{where}.padding", 0, n)
            _check_rank(shape, n, where)
            if w.shape[1] != shape[0]:
                raise SpecError(
                    f"{where}.weight: shape {tuple(w.shape)} expects {w.shape[1]} input "
                    f"channels, but {gives} gives {shape[0]}"
                )
            size = tuple((shape[d + 1] + 2 * layer.padding[d] - w.shape[d + 2])
                         // layer.stride[d] + 1 for d in range(n))
            if min(size) < 1:
                raise SpecError(f"{where}.weight: kernel {tuple(w.shape[2:])} larger than the "
                                f"padded input {shape[1:]}")
            shape = (w.shape[0], *size)
        elif isinstance(layer, POOLS):
            n = SPATIAL_DIMS[type(layer)]
            _check_pair(layer.kernel_size, f"{where}.kernel_size", 1, n)
            _check_pair(layer.stride, f"{where}.stride", 1, n)
            _check_rank(shape, n, where)
            size = tuple((shape[d + 1] - layer.kernel_size[d]) // layer.stride[d] + 1
                         for d in range(n))
            if min(size) < 1:
                raise SpecError(f"{where}.kernel_size: {layer.kernel_size} larger than the "
                                f"input {shape[1:]}")
            shape = (shape[0], *size)
        else:  # Flatten
            shape = (math.prod(shape),)
        shapes.append(shape)
    return shapes


def _check_graph(spec: NetworkSpec) -> None:
    """One output (the last layer; every other feeds a later one), and currents (weighted
    layers without a neuron) only where a population sums them (an Add that carries one)."""
    consumers = spec.consumers()
    last = len(spec.layers) - 1
    names = [layer.name for layer in spec.layers if layer.name is not None]
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SpecError(f"spec.layers: node names must be unique, {twice} used more than once")
    for i, layer in enumerate(spec.layers):  # first, as it names the real mistake
        if isinstance(layer, Add) and layer.neuron is None:
            currents = [j for j in spec.inputs_of(i) if j != INPUT
                        and isinstance(spec.layers[j], WEIGHTED)
                        and spec.layers[j].neuron is None]
            if currents:
                raise SpecError(f"{_where(i, layer)}: sums the current of "
                                f"{_where(currents[0], spec.layers[currents[0]])} but carries "
                                f"no neuron; a sum of currents needs the neuron that "
                                f"integrates it (Add(neuron=LIF(...)))")
    for i, layer in enumerate(spec.layers):
        if i != last and not consumers[i]:
            raise SpecError(f"{_where(i, layer)}: feeds no other layer; a spec has one output, "
                            f"its last layer ({_where(last, spec.layers[last])})")
        neuron = getattr(layer, "neuron", None)
        if isinstance(layer, WEIGHTED) and neuron is None:
            bad = [c for c in consumers[i] if not (isinstance(spec.layers[c], Add)
                                                   and spec.layers[c].neuron is not None)]
            if not spec.is_graph and i != last:
                raise SpecError(f"{_where(i, layer, 'neuron')}: every weighted layer but the "
                                f"last must have a LIF neuron, got NoneType")
            if i == last or bad:
                raise SpecError(
                    f"{_where(i, layer, 'neuron')}: a weighted layer without a neuron gives a "
                    f"current, which only an Add that carries the neuron can take (a residual "
                    f"sum of currents)"
                    + (f"; {_where(bad[0], spec.layers[bad[0]])} takes it" if bad else ""))


def validate(spec: NetworkSpec) -> None:
    """Check everything a consumer relies on; the first problem found is raised as SpecError."""
    if not isinstance(spec, NetworkSpec):
        raise SpecError(f"expected a NetworkSpec, got {type(spec).__name__}")
    ts = spec.timesteps
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 1:
        raise SpecError(f"spec.timesteps: must be an integer >= 1, got {ts!r}")
    if spec.encoding not in ENCODINGS:
        raise SpecError(f"spec.encoding: must be one of {ENCODINGS}, got {spec.encoding!r}")
    shape = spec.input_shape
    if (not isinstance(shape, tuple) or len(shape) not in (1, 2, 3)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise SpecError(f"spec.input_shape: expected (C, H, W), (C, L) or (F,) of positive "
                        f"integers, got {shape!r}")
    if not isinstance(spec.metadata, dict):
        raise SpecError(f"spec.metadata: expected a dict, got {type(spec.metadata).__name__}")
    if not spec.layers:
        raise SpecError("spec.layers: a network needs at least one layer")
    shapes = _infer_shapes(spec)
    weighted = [i for i, _ in spec.weighted_layers()]
    if not weighted:
        raise SpecError("spec.layers: a network needs at least one Linear or convolution layer")
    last = spec.layers[-1]
    if not isinstance(last, (*WEIGHTED, Add)):
        raise SpecError(f"{_where(len(spec.layers) - 1, last)}: the network must end with its "
                        f"output layer (a Linear, convolution or Add with its neuron)")
    if last.neuron is None:
        _check_neuron(len(spec.layers) - 1, last, shapes[-1], True)
    _check_graph(spec)
    for i, layer in spec.weighted_layers():
        n_out = layer.weight.shape[0]
        if layer.bias is not None:
            b = _check_tensor(layer.bias, f"{_where(i, layer)}.bias", ndim=1)
            if b.shape[0] != n_out or not b.is_floating_point():
                raise SpecError(f"{_where(i, layer)}.bias: expected a float tensor of shape "
                                f"({n_out},), got {b.dtype} {tuple(b.shape)}")
        if layer.mask is not None:
            m = _check_tensor(layer.mask, f"{_where(i, layer)}.mask")
            if m.shape != layer.weight.shape:
                raise SpecError(f"{_where(i, layer)}.mask: shape {tuple(m.shape)} differs from "
                                f"weight shape {tuple(layer.weight.shape)}")
            if not bool(((m == 0) | (m == 1)).all()):
                raise SpecError(f"{_where(i, layer)}.mask: values must be 0 or 1")
        if not layer.weight.is_floating_point():
            raise SpecError(f"{_where(i, layer)}.weight: expected floating point, "
                            f"got {layer.weight.dtype}")
    for i in spec.neuron_layers():
        _check_neuron(i, spec.layers[i], shapes[i], i == len(spec.layers) - 1)
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, (*WEIGHTED, Add)) and getattr(layer, "neuron", None) is not None:
            raise SpecError(f"{_where(i, layer)}: only Linear, convolution and Add layers carry "
                            f"neurons")


# ---------------------------------------------------------------------------------------------
# (de)serialisation: one document of JSON plus a flat dict of named tensors


def _bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    a, b = a.detach().cpu().contiguous(), b.detach().cpu().contiguous()
    return a.view(torch.uint8).equal(b.view(torch.uint8)) if a.numel() else True


def _no_current_leak(neuron: Neuron) -> bool:
    value = neuron.current_leak
    return not isinstance(value, torch.Tensor) and value == 0


def _uses_neuron_options(entry: dict) -> bool:
    """A per-neuron leak or reset "none" in one layer's document (format version 5)."""
    n = entry.get("neuron") or {}
    return isinstance(n.get("leak"), dict) or n.get("reset") == "none"


def _needs_any_rank(spec: NetworkSpec) -> bool:
    """A (C, L) input, or a Flatten of a flat input: shapes version 6 introduced."""
    rank = len(spec.input_shape)
    return rank == 2 or (rank == 1 and any(isinstance(layer, Flatten) for layer in spec.layers))


def _to_document(spec: NetworkSpec) -> tuple[dict, dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}

    def put(value: Any, key: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu().contiguous()
            return {"tensor": key}
        return value

    def put_neuron(n: Neuron | None, i: int) -> dict | None:
        if n is None:
            return None
        out = {"type": type(n).__name__}
        for fname in n.__dataclass_fields__:
            if fname == "current_leak" and _no_current_leak(n):
                continue  # absent as before version 4: byte for byte what it wrote
            out[fname] = put(getattr(n, fname), f"layers.{i}.neuron.{fname}")
        return out

    layers = []
    for i, layer in enumerate(spec.layers):
        entry: dict[str, Any] = {"type": type(layer).__name__}
        # graph fields only where set: a chain is written byte for byte as before version 7
        if layer.name is not None:
            entry["name"] = layer.name
        if layer.inputs is not None:
            entry["inputs"] = list(layer.inputs)
        if isinstance(layer, Add):
            entry["neuron"] = put_neuron(layer.neuron, i)
        if isinstance(layer, WEIGHTED):
            for name in ("weight", "bias", "mask"):
                entry[name] = put(getattr(layer, name), f"layers.{i}.{name}")
            if isinstance(layer, CONVS):
                entry["stride"] = list(layer.stride)
                entry["padding"] = list(layer.padding)
            n = layer.neuron
            if n is None:
                entry["neuron"] = None
            else:
                entry["neuron"] = {"type": type(n).__name__}
                for fname in n.__dataclass_fields__:
                    if fname == "current_leak" and _no_current_leak(n):
                        continue  # absent as before version 4: byte for byte what it wrote
                    entry["neuron"][fname] = put(getattr(n, fname), f"layers.{i}.neuron.{fname}")
        elif isinstance(layer, POOLS):
            entry["kernel_size"] = list(layer.kernel_size)
            entry["stride"] = list(layer.stride)
        layers.append(entry)
    doc = {
        "format": FORMAT_NAME,
        "format_version": max([*(LAYER_SINCE.get(e["type"], 1) for e in layers),
                               SPIKING_READOUT_SINCE if spec.spiking_readout else 1,
                               *(CURRENT_LEAK_SINCE for e in layers
                                 if "current_leak" in (e.get("neuron") or {})),
                               *(NEURON_OPTIONS_SINCE for e in layers
                                 if _uses_neuron_options(e)),
                               ANY_RANK_SINCE if _needs_any_rank(spec) else 1,
                               *(GRAPH_SINCE for e in layers if "inputs" in e or "name" in e
                                 or ("neuron" in e and e["neuron"] is None))]),
        "timesteps": spec.timesteps,
        "encoding": spec.encoding,
        "input_shape": list(spec.input_shape),
        "metadata": spec.metadata,
        "layers": layers,
    }
    return doc, tensors


class _Reader:
    """Turns a parsed document back into a spec; every complaint names its place."""

    def __init__(self, tensors: dict[str, torch.Tensor], source: str):
        self.tensors = tensors
        self.used: set[str] = set()
        self.source = source
        self.version = FORMAT_VERSION

    def fail(self, where: str, msg: str) -> SpecFileError:
        return SpecFileError(f"{self.source}: {where}: {msg}")

    def field(self, obj: dict, name: str, where: str, *, default: Any = ...) -> Any:
        if name not in obj:
            if default is ...:
                raise self.fail(where, f"missing field {name!r}")
            return default
        return obj[name]

    def value(self, raw: Any, where: str, *, allow_none: bool = False) -> Any:
        if raw is None and allow_none:
            return None
        if isinstance(raw, dict):
            key = raw.get("tensor")
            if set(raw) != {"tensor"} or not isinstance(key, str):
                raise self.fail(where, f"expected a number or {{'tensor': KEY}}, got {raw!r}")
            if key not in self.tensors:
                raise self.fail(where, f"tensor {key!r} is not in {WEIGHTS_FILE}")
            self.used.add(key)
            return self.tensors[key]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise self.fail(where, f"expected a number or a tensor reference, got {raw!r}")
        return float(raw)

    def pair(self, raw: Any, where: str, n: int = 2) -> tuple[int, ...]:
        """A list of ``n`` integers: two for 2-D layers, one for 1-D ones."""
        if (not isinstance(raw, list) or len(raw) != n
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)):
            what = "two integers" if n == 2 else f"{n} integer(s)"
            raise self.fail(where, f"expected a list of {what}, got {raw!r}")
        return tuple(raw)

    def neuron(self, raw: Any, where: str) -> Neuron | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.fail(where, f"expected an object, got {type(raw).__name__}")
        kind = raw.get("type")
        cls = NEURON_TYPES.get(kind)
        if cls is None:
            raise self.fail(f"{where}.type", f"unknown neuron type {kind!r}; known: "
                            f"{', '.join(NEURON_TYPES)}")
        fields = cls.__dataclass_fields__
        unknown = set(raw) - set(fields) - {"type"}
        if unknown:
            raise self.fail(where, f"unknown field(s) {sorted(unknown)}")
        kwargs = {}
        if "current_leak" in raw and self.version < CURRENT_LEAK_SINCE:
            raise self.fail(f"{where}.current_leak", f"exists from format_version "
                            f"{CURRENT_LEAK_SINCE} on; this document says version {self.version}")
        for fname in fields:
            v = self.field(raw, fname, where, default=0.0 if fname == "current_leak" else ...)
            if fname == "reset":
                if not isinstance(v, str):
                    raise self.fail(f"{where}.reset", f"expected a string, got {v!r}")
                if v == "none" and self.version < NEURON_OPTIONS_SINCE:
                    raise self.fail(f"{where}.reset", f"reset 'none' exists from format_version "
                                    f"{NEURON_OPTIONS_SINCE} on; this document says version "
                                    f"{self.version}")
                kwargs[fname] = v
            else:
                kwargs[fname] = self.value(v, f"{where}.{fname}")
                tensor = isinstance(kwargs[fname], torch.Tensor)
                if fname in ("amplitude", "current_leak") and tensor:
                    raise self.fail(f"{where}.{fname}", "must be a number, not a tensor")
                if fname == "leak" and tensor and self.version < NEURON_OPTIONS_SINCE:
                    raise self.fail(f"{where}.leak", f"per-neuron leaks exist from "
                                    f"format_version {NEURON_OPTIONS_SINCE} on; this document "
                                    f"says version {self.version}")
        return cls(**kwargs)

    def layer(self, i: int, raw: Any) -> Layer:
        where = f"layers[{i}]"
        if not isinstance(raw, dict):
            raise self.fail(where, f"expected an object, got {type(raw).__name__}")
        kind = raw.get("type")
        cls = LAYER_TYPES.get(kind)
        if cls is None:
            raise self.fail(f"{where}.type", f"unknown layer type {kind!r}; known: "
                            f"{', '.join(LAYER_TYPES)}")
        where = f"layers[{i}] ({kind})"
        since = LAYER_SINCE.get(kind, 1)
        if since > self.version:
            raise self.fail(f"{where}.type", f"{kind} layers exist from format_version {since} "
                            f"on; this document says version {self.version}")
        node = self.node_fields(raw, where)
        n = SPATIAL_DIMS.get(cls, 0)
        if cls is Add:
            return Add(neuron=self.neuron(raw.get("neuron"), f"{where}.neuron"), **node)
        if cls in WEIGHTED:
            weight = self.value(self.field(raw, "weight", where), f"{where}.weight")
            if not isinstance(weight, torch.Tensor):
                raise self.fail(f"{where}.weight", "must be a tensor reference")
            kwargs: dict[str, Any] = {
                "weight": weight,
                "bias": self.value(raw.get("bias"), f"{where}.bias", allow_none=True),
                "mask": self.value(raw.get("mask"), f"{where}.mask", allow_none=True),
                "neuron": self.neuron(raw.get("neuron"), f"{where}.neuron"),
            }
            if cls in CONVS:
                kwargs["stride"] = self.pair(self.field(raw, "stride", where),
                                             f"{where}.stride", n)
                kwargs["padding"] = self.pair(self.field(raw, "padding", where),
                                              f"{where}.padding", n)
            if kwargs["neuron"] is None and self.version < GRAPH_SINCE \
                    and i != self.n_layers - 1:
                raise self.fail(f"{where}.neuron", f"weighted layers without a neuron exist from "
                                f"format_version {GRAPH_SINCE} on; this document says version "
                                f"{self.version}")
            return cls(**kwargs, **node)
        if cls in POOLS:
            return cls(
                kernel_size=self.pair(self.field(raw, "kernel_size", where),
                                      f"{where}.kernel_size", n),
                stride=self.pair(self.field(raw, "stride", where), f"{where}.stride", n),
                **node,
            )
        return Flatten(**node)

    def node_fields(self, raw: dict, where: str) -> dict[str, Any]:
        """A layer's ``inputs`` and ``name`` (format version 7), where the document has them."""
        out: dict[str, Any] = {}
        for key in ("inputs", "name"):
            if key not in raw:
                continue
            if self.version < GRAPH_SINCE:
                raise self.fail(f"{where}.{key}", f"graph fields exist from format_version "
                                f"{GRAPH_SINCE} on; this document says version {self.version}")
            value = raw[key]
            if key == "name" and not isinstance(value, str):
                raise self.fail(f"{where}.name", f"expected a string, got {value!r}")
            if key == "inputs":
                if not isinstance(value, list) or not all(
                        isinstance(j, int) and not isinstance(j, bool) for j in value):
                    raise self.fail(f"{where}.inputs", f"expected a list of layer indices "
                                    f"({INPUT} for the network input), got {value!r}")
                value = tuple(value)
            out[key] = value
        return out

    def spec(self, doc: Any) -> NetworkSpec:
        if not isinstance(doc, dict):
            raise self.fail("document", f"expected a JSON object, got {type(doc).__name__}")
        if doc.get("format") != FORMAT_NAME:
            raise self.fail("format", f"not a leanspike spec (format {doc.get('format')!r})")
        version = doc.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise self.fail("format_version", f"expected an integer, got {version!r}")
        if version > FORMAT_VERSION:
            raise self.fail("format_version", f"version {version} was written by a newer "
                            f"leanspike; this one reads up to {FORMAT_VERSION}: upgrade leanspike")
        if version < 1:
            raise self.fail("format_version", f"invalid version {version}")
        self.version = version
        layers_raw = self.field(doc, "layers", "spec")
        if not isinstance(layers_raw, list):
            raise self.fail("layers", "expected a list")
        shape = self.field(doc, "input_shape", "spec")
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise self.fail("input_shape", f"expected a list of integers, got {shape!r}")
        metadata = doc.get("metadata", {})
        self.n_layers = len(layers_raw)
        spec = NetworkSpec(
            input_shape=tuple(shape),
            layers=[self.layer(i, raw) for i, raw in enumerate(layers_raw)],
            timesteps=self.field(doc, "timesteps", "spec"),
            encoding=self.field(doc, "encoding", "spec"),
            metadata=metadata,
        )
        unused = set(self.tensors) - self.used
        if unused:
            raise self.fail(WEIGHTS_FILE, f"tensors not referenced by the spec: {sorted(unused)}")
        return spec


def spec_to_bytes(spec: NetworkSpec) -> tuple[bytes, bytes]:
    """The two files' contents: (spec.json, weights.safetensors). Validates first."""
    from safetensors.torch import save

    validate(spec)
    doc, tensors = _to_document(spec)
    weights = save(tensors)
    doc["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    try:
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise SpecError(f"spec.metadata: not JSON-serialisable ({exc})") from exc
    return text.encode(), weights


def spec_from_bytes(spec_json: bytes, weights: bytes, source: str = "<bytes>") -> NetworkSpec:
    """Parse and validate; raises SpecFileError naming the source and the field at fault."""
    from safetensors.torch import load

    def reject_constant(name: str) -> None:
        raise ValueError(f"non-finite number {name} in JSON")

    try:
        doc = json.loads(spec_json.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SpecFileError(f"{source}/{SPEC_FILE}: not valid JSON ({exc}); the file is "
                            f"truncated or corrupt") from exc
    if isinstance(doc, dict) and "weights_sha256" in doc:
        actual = hashlib.sha256(weights).hexdigest()
        if doc["weights_sha256"] != actual:
            raise SpecFileError(f"{source}/{WEIGHTS_FILE}: sha256 {actual[:12]}... does not match "
                                f"{doc['weights_sha256']!r:.20} recorded in {SPEC_FILE}; the "
                                f"weights are corrupt or were replaced")
    elif isinstance(doc, dict):
        raise SpecFileError(f"{source}/{SPEC_FILE}: missing field 'weights_sha256'")
    try:
        tensors = load(weights)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise SpecFileError(f"{source}/{WEIGHTS_FILE}: unreadable safetensors ({exc})") from exc
    spec = _Reader(tensors, f"{source}/{SPEC_FILE}").spec(doc)
    try:
        validate(spec)
    except SpecFileError:
        raise
    except SpecError as exc:
        raise SpecFileError(f"{source}/{SPEC_FILE}: {exc}") from exc
    return spec


def save_spec(spec: NetworkSpec, directory: str | os.PathLike) -> Path:
    """Write spec.json and weights.safetensors into ``directory``.

    Both files are produced in memory and validated before anything touches the disk, then each
    is written to a temporary name, fsynced and renamed, weights first: no file is ever seen
    half-written, and a crash between the two renames is caught on load by the sha256 check.
    """
    directory = Path(directory)
    spec_json, weights = spec_to_bytes(spec)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / WEIGHTS_FILE, weights)
    atomic_write(directory / SPEC_FILE, spec_json)
    return directory


def load_spec(directory: str | os.PathLike) -> NetworkSpec:
    directory = Path(directory)
    if not directory.is_dir():
        raise SpecFileError(f"{directory}: no such spec folder (expected {SPEC_FILE} and "
                            f"{WEIGHTS_FILE} inside)")
    files = {}
    for name in (SPEC_FILE, WEIGHTS_FILE):
        path = directory / name
        if not path.is_file():
            raise SpecFileError(f"{path}: missing; a spec folder holds {SPEC_FILE} and "
                                f"{WEIGHTS_FILE}")
        files[name] = path.read_bytes()
    return spec_from_bytes(files[SPEC_FILE], files[WEIGHTS_FILE], source=str(directory))
