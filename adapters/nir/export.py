"""A network spec as a ``nir.NIRGraph``: Input -> layers -> Output, with the spec's edges.

Each weighted layer becomes Affine (Linear without bias: nir.Linear) or Conv2d, and its neuron
the node after it: LIF with leak 1 -> IF, leak < 1 -> LIF, current_leak > 0 -> CubaLIF, the
integrating output -> I (leak 1), LI or CubaLI; time constants at the graph's declared ``dt``
(``metadata["dt"]``) with unit gain (see ``dynamics``). A spike amplitude other than 1 is a
Scale node after the neuron, exact in NIR. Masked-out weights are written as 0 (NIR has no
mask; the mask itself goes to the node's metadata, so a masked spec comes back with
``weight * mask``).

A graph spec (residual) keeps its edges: each of a layer's inputs is an edge into the layer's
first node, and NIR sums a node's inputs before the node acts. An ``Add`` with a neuron is that
neuron node alone (``layer{i}``): the currents of its weighted inputs (Conv2d/Affine nodes with
no neuron after them) and its shortcut's spikes (the edge from the source's neuron node, or
from its amplitude Scale: amplitude * s) enter it at the neuron's unit gain, which is the spec's
I[t] = the sum of the inputs. An ``Add`` without a neuron (SEW's ADD of spike trains) is a
Scale of 1 (``layer{i}``) that its inputs' edges go into and its consumers take, rather than
edges from every spike train into every consumer: the sum is formed once (an Add that feeds
another stays one, not a regrouped sum), its reading does not depend on whether a tool sums a
node's inputs before the node or adds what the node makes of each (the same bits for a Scale of
1; a Conv2d's bias would count twice), and the file reads back as the same layout. nirtorch
reads it as a sum (its executor adds a node's inputs with ``torch.add`` before calling it).

Exact through NIR's fields: every sum above. One node with three or more inputs may be summed
by a tool in another order than the spec's (nirtorch collects them in a set): bit for bit the
same for spikes of amplitude 1 (small integers), possibly not in the last bit otherwise; two
inputs (every residual block) add the same in either order. leanspike reads the spec's order
back from the node metadata, with the layer order and names.

What NIR's own fields cannot say (subtractive reset, reset "none", a nonzero v_init, max
pooling) is refused by the default ``strict=True``, naming the layer; ``strict=False`` writes
the nearest NIR (v_reset = 0, a start from 0, SumPool2d) with an ``NIRApproximationWarning``
that says what other tools will compute instead. Either way every node's ``metadata
["leanspike"]`` records the spec's exact values, from which ``from_nir`` restores the spec bit
for bit.
"""

from __future__ import annotations

import json
import warnings

import nir
import numpy as np
import torch

from leanspike._version import __version__
from leanspike.adapters.nir.dynamics import DEFAULT_DT, tau_of
from leanspike.errors import ConfigError, SpecError
from leanspike.spec import (
    INPUT,
    LIF,
    Add,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    Integrator,
    Linear,
    MaxPool1d,
    MaxPool2d,
    NetworkSpec,
)

META = "leanspike"  # the metadata key of everything leanspike records beyond NIR's fields


class NIRApproximationWarning(UserWarning):
    """A lenient export wrote something other NIR tools will compute differently."""


def _array(value, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar or tensor broadcast to ``shape``: float32 for tensors, float64 for numbers."""
    if isinstance(value, torch.Tensor):
        return np.ascontiguousarray(np.broadcast_to(value.detach().cpu().numpy(), shape))
    return np.full(shape, float(value), dtype=np.float64)


def _exact(value):
    """A spec value as metadata stores it: a float, or the tensor's array as it is."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous().numpy()
    return float(value)


def _is_one(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool((value == 1).all())
    return value == 1


def _any_one(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool((value == 1).any())
    return value == 1


def _is_zero(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool((value == 0).all())
    return value == 0


class _Exporter:
    def __init__(self, spec: NetworkSpec, dt: float, strict: bool):
        self.spec, self.dt, self.strict = spec, dt, strict

    def inexact(self, where: str, what: str, instead: str) -> None:
        """Refuse (strict) or warn (lenient) about something NIR's fields cannot say."""
        if self.strict:
            raise SpecError(f"{where}: {what}, which NIR cannot express; strict export refuses "
                            f"it. Export with strict=False (leanspike export --lenient) to "
                            f"write {instead} (leanspike reads its own file back exactly from "
                            f"the node metadata)")
        warnings.warn(f"{where}: {what}; written as {instead}: other NIR tools will compute "
                      f"that instead (leanspike restores it from the node metadata)",
                      NIRApproximationWarning, stacklevel=4)

    def weighted(self, i: int, layer: Linear | Conv2d, in_shape) -> nir.NIRNode:
        w = layer.weight if layer.mask is None else layer.weight * layer.mask.to(layer.weight)
        weight = w.detach().cpu().contiguous().numpy()
        meta: dict = {}
        if layer.mask is not None:
            meta["mask"] = layer.mask.detach().cpu().contiguous().numpy()
        if isinstance(layer, Linear):
            if layer.bias is None:
                node = nir.Linear(weight=weight)
            else:
                node = nir.Affine(weight=weight, bias=layer.bias.detach().cpu().numpy())
        elif isinstance(layer, Conv1d):
            if layer.bias is None:
                meta["no_bias"] = True
            bias = (np.zeros(weight.shape[0], dtype=weight.dtype) if layer.bias is None
                    else layer.bias.detach().cpu().numpy())
            node = nir.Conv1d(input_shape=int(in_shape[1]), weight=weight,
                              stride=int(layer.stride[0]), padding=int(layer.padding[0]),
                              dilation=1, groups=1, bias=bias)
        else:
            if weight.shape[2] != weight.shape[3]:
                raise SpecError(f"layers[{i}] (Conv2d).weight: kernel {tuple(weight.shape[2:])} "
                                f"is not square; nir {nir.__version__} computes a Conv2d's "
                                f"output shape from the kernel height alone, so its own type "
                                f"check rejects the graph")
            if layer.bias is None:
                meta["no_bias"] = True
            bias = (np.zeros(weight.shape[0], dtype=weight.dtype) if layer.bias is None
                    else layer.bias.detach().cpu().numpy())
            node = nir.Conv2d(input_shape=tuple(in_shape[1:]), weight=weight,
                              stride=tuple(layer.stride), padding=tuple(layer.padding),
                              dilation=(1, 1), groups=1, bias=bias)
        if meta:
            node.metadata = {META: meta}
        return node

    def neuron(self, i: int, layer: Linear | Conv2d, shape) -> nir.NIRNode:
        n = layer.neuron
        where = f"layers[{i}] ({type(layer).__name__}).neuron"
        meta = {"neuron": type(n).__name__, "leak": _exact(n.leak), "v_init": _exact(n.v_init),
                "current_leak": float(n.current_leak)}
        tensors = [f for f in ("leak", "v_init", "threshold")
                   if isinstance(getattr(n, f, None), torch.Tensor)]
        if tensors:
            meta["tensors"] = ",".join(tensors)
        if not _is_zero(n.v_init):
            self.inexact(f"{where}.v_init", "the neuron starts from a nonzero potential (NIR "
                         "has no initial state)", "a start from 0")
        if isinstance(n, LIF):
            meta["reset"] = n.reset
            if n.reset == "subtract":
                self.inexact(f"{where}.reset", "reset 'subtract' (u - threshold on a spike; NIR "
                             "resets to v_reset)", "reset to v_reset = 0")
            elif n.reset == "none":
                self.inexact(f"{where}.reset", "reset 'none' (a neuron fires while above "
                             "threshold; NIR always resets)", "reset to v_reset = 0")
        leaky, current = not _is_one(n.leak), n.current_leak > 0
        if leaky and _any_one(n.leak):
            raise SpecError(f"{where}.leak: some neurons have leak 1 (no decay) and others "
                            f"decay; one NIR node is either IF (no time constant) or LIF")
        if current and not leaky:
            raise SpecError(f"{where}: a current-based neuron (current_leak "
                            f"{n.current_leak}) without membrane decay (leak 1) has no NIR "
                            f"node (CubaLIF needs a finite tau_mem)")
        dt = self.dt
        tau = tau_of(_array(n.leak, shape), dt) if leaky else None
        zeros = np.zeros(shape, dtype=np.float64)
        if current:
            tau_syn = np.full(shape, dt / (1.0 - n.current_leak))
            kw = dict(tau_syn=tau_syn, tau_mem=tau, r=tau / dt, v_leak=zeros, w_in=tau_syn / dt)
        if isinstance(n, Integrator):
            node = (nir.CubaLI(**kw) if current
                    else nir.LI(tau=tau, r=tau / dt, v_leak=zeros) if leaky
                    else nir.I(r=np.full(shape, 1.0 / dt)))
        else:
            th, reset = _array(n.threshold, shape), np.zeros(shape, dtype=np.float64)
            node = (nir.CubaLIF(**kw, v_threshold=th, v_reset=reset) if current
                    else nir.LIF(tau=tau, r=tau / dt, v_leak=zeros, v_threshold=th,
                                 v_reset=reset) if leaky
                    else nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=th, v_reset=reset))
        node.metadata = {META: meta}
        return node

    def layer_nodes(self, i: int, layer, in_shape, shape) -> list[tuple[str, nir.NIRNode]]:
        """Layer ``i``'s NIR nodes, in order: its inputs' edges go into the first, its
        consumers' edges leave the last."""
        name = f"layer{i}"
        if isinstance(layer, (Linear, Conv1d, Conv2d, Add)):
            nodes = []
            if not isinstance(layer, Add):
                nodes.append((name, self.weighted(i, layer, in_shape)))
            if layer.neuron is None:
                if isinstance(layer, Add):  # SEW: the sum of spike trains, as it is
                    nodes.append((name, nir.Scale(scale=np.ones(shape, dtype=np.float32),
                                                  metadata={META: {"layer": "Add"}})))
                return nodes
            neuron = self.neuron(i, layer, shape)
            if isinstance(layer, Add):  # with a neuron: the population that sums currents
                neuron.metadata[META]["layer"] = "Add"
            nodes.append((name if isinstance(layer, Add) else f"{name}_neuron", neuron))
            amplitude = getattr(layer.neuron, "amplitude", 1.0)
            if amplitude != 1.0:
                nodes.append((f"{name}_amplitude", nir.Scale(
                    scale=np.full(shape, float(amplitude)),
                    metadata={META: {"amplitude": float(amplitude)}})))
            return nodes
        if isinstance(layer, (AvgPool2d, MaxPool2d)):
            args = dict(kernel_size=np.array(layer.kernel_size),
                        stride=np.array(layer.stride), padding=np.array([0, 0]))
            if isinstance(layer, MaxPool2d):
                self.inexact(f"layers[{i}] (MaxPool2d)", "max pooling (NIR has none)",
                             "SumPool2d (the window's spike count: equal while at most "
                             "one spike falls in a window)")
                return [(name, nir.SumPool2d(**args, metadata={META: {"layer": "MaxPool2d"}}))]
            return [(name, nir.AvgPool2d(**args))]
        if isinstance(layer, (AvgPool1d, MaxPool1d)):
            raise SpecError(f"layers[{i}] ({type(layer).__name__}): nir {nir.__version__} "
                            f"has no 1-D pooling node (only AvgPool2d and SumPool2d); pool "
                            f"with a strided Conv1d, or keep the network in leanspike's "
                            f"own format")
        if isinstance(layer, Flatten):
            return [(name, nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0,
                                       end_dim=-1))]
        raise SpecError(f"layers[{i}] ({type(layer).__name__}): no NIR mapping in this "
                        f"leanspike yet (Linear, Conv1d, Conv2d, AvgPool2d, MaxPool2d, "
                        f"Flatten, Add)")

    def graph(self) -> nir.NIRGraph:
        spec = self.spec
        shapes = spec.layer_shapes()
        nodes: dict[str, nir.NIRNode] = {
            "input": nir.Input(input_type={"input": np.array(spec.input_shape)})}
        edges: list[tuple[str, str]] = []
        out = {INPUT: "input"}  # the NIR node whose output is each spec layer's output
        graph = spec.is_graph
        for i, layer in enumerate(spec.layers):
            sources = spec.inputs_of(i)
            in_shape = tuple(spec.input_shape) if sources[0] == INPUT else shapes[sources[0]]
            own = self.layer_nodes(i, layer, in_shape, shapes[i])
            first = own[0][1]
            structure = {}
            if layer.name is not None:
                structure["name"] = layer.name
            if graph:  # the layer's place, for the layout to come back as it was
                structure["index"] = i
            if layer.inputs is not None:
                structure["inputs"] = np.array(layer.inputs, dtype=np.int64)
            if structure:
                meta = first.metadata if isinstance(first.metadata, dict) else {}
                first.metadata = {**meta, META: {**(meta.get(META) or {}), **structure}}
            edges += [(out[j], own[0][0]) for j in sources]
            edges += [(a, b) for (a, _), (b, _) in zip(own[:-1], own[1:])]
            nodes.update(own)
            out[i] = own[-1][0]
        nodes["output"] = nir.Output(output_type={"output": np.array(shapes[-1])})
        edges.append((out[len(spec.layers) - 1], "output"))
        metadata = {"dt": float(self.dt), META: {
            "timesteps": spec.timesteps, "encoding": spec.encoding,
            "spec_metadata": json.dumps(spec.metadata), "version": __version__}}
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=True)


def to_nir(spec: NetworkSpec, *, dt: float = DEFAULT_DT, strict: bool = True) -> nir.NIRGraph:
    """``spec`` (a chain or a graph) as a type-checked NIR graph with time constants at step
    ``dt`` (seconds, or whatever unit the reader's step is in); ``strict=False`` approximates
    what NIR cannot say, with a warning per layer. Exact in NIR's fields: everything strict
    export writes, the residual sums included (see the module docstring); bit for bit through
    leanspike's metadata: everything, the lenient approximations included."""
    spec.validate()
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ConfigError(f"dt: must be a positive number, got {dt!r}")
    return _Exporter(spec, float(dt), strict).graph()
