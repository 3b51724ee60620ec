"""A ``nir.NIRGraph`` as a network spec, under NIR's equations (``dynamics``).

A chain from the Input node to the Output node (how snnTorch, Norse and Sinabs write
feed-forward networks) is read layer by layer: Affine/Linear, Conv1d or Conv2d, each followed by its
neuron (IF, LIF, CubaLIF; the last may instead be LI, I or CubaLI, the integrating output),
with AvgPool2d, SumPool2d, Flatten and Scale between. A neuron's input gain and constant drive
(``v_leak``) go into the weights and bias of the layer before it; a SumPool2d is an AvgPool2d
whose window size goes into the next weighted layer; a Scale after a neuron is its spike
amplitude, elsewhere a factor of the next weights. A node with no spec equivalent (a recurrent
subgraph, Delay, Threshold, a nonzero v_reset, dilation or groups) is refused by name.

A graph with branches and merges (a residual network) becomes a graph spec; each node with
several edges into it (NIR sums them before the node acts) is an ``Add``. Into a neuron node:
the Add with that neuron (spiking/converted ResNet), summing the currents of weighted nodes
without a neuron of their own and the spikes of the other inputs through unit synapses (so the
neuron's input gain must be 1 unless every input is a weighted node that takes it). Into any
other node (a Scale of 1, leanspike's SEW sum; or a weighted, pooling or Flatten node, as
another tool may write the sum straight into each consumer): an Add without a neuron before
that node, the sum of spike trains the next layer receives, which is SEW's ADD; a sum of
currents there has no neuron to integrate it and is refused. A cycle (a recurrent edge), a
node that does not reach the Output, several edges into the Output or a node a spec has no
equivalent of in any branch are refused by the node's name. Where leanspike's metadata records
them, the layer order, each layer's inputs in order and its name come back as written.

The step ``dt``: the argument, else the graph's ``metadata["dt"]`` (leanspike writes it), else
the one its neurons imply under the unit-gain convention of snnTorch's exporter (r = tau/dt);
a graph whose neurons imply none needs ``dt`` (Norse: its simulation step, 1e-3 by default;
Sinabs: 1). The number of time steps: the argument, else the graph's leanspike metadata, else
``DEFAULT_TIMESTEPS``. Where a node carries leanspike's metadata and its NIR fields still say
the same, the exact values it records are used (reset mode, v_init, tensors kept as tensors).
"""

from __future__ import annotations

import heapq
import json
import warnings
from dataclasses import dataclass

import nir
import numpy as np
import torch

from leanspike.adapters.nir.dynamics import implied_dt, leak_of, unit_gain
from leanspike.adapters.nir.export import META, NIRApproximationWarning
from leanspike.errors import ConfigError, SpecError
from leanspike.spec import (
    INPUT,
    LIF,
    Add,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    Integrator,
    Linear,
    MaxPool2d,
    NetworkSpec,
)

DEFAULT_TIMESTEPS = 1  # leanspike's target latency; a foreign graph does not say its T
NEURONS = (nir.IF, nir.LIF, nir.CubaLIF, nir.I, nir.LI, nir.CubaLI)
INTEGRATORS = (nir.I, nir.LI, nir.CubaLI)
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Conv1d", "Conv2d", "AvgPool2d", "SumPool2d",
             "Flatten", "Scale", *(c.__name__ for c in NEURONS))


def _where(name: str, node) -> str:
    return f"NIR node {name!r} ({type(node).__name__})"


def _ends(graph: nir.NIRGraph, what: str) -> tuple[list[str], list[str]]:
    """The graph's one Input and one Output node (as lists), refusing subgraphs."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise SpecError(f"{_where(name, node)}: a subgraph (a recurrent layer such as "
                            f"snnTorch's RLeaky writes one); leanspike takes feed-forward "
                            f"{what} only")
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise SpecError(f"NIR graph: needs exactly one Input and one Output node, has inputs "
                        f"{inputs} and outputs {outputs}")
    return inputs, outputs


def chain(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode]]:
    """The graph's nodes in order from its Input to its Output; anything else is refused."""
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    inputs, outputs = _ends(graph, "chains")
    after: dict[str, str] = {}
    before: dict[str, str] = {}
    for a, b in graph.edges:
        for table, key, value, way in ((after, a, b, "out of"), (before, b, a, "into")):
            if key in table and table[key] != value:
                node = graph.nodes.get(key)
                raise SpecError(f"{_where(key, node)}: more than one edge {way} it "
                                f"({table[key]!r}, {value!r}): a branch, a merge or a "
                                f"recurrent connection; leanspike takes feed-forward chains "
                                f"only")
            table[key] = value
    order, name = [], inputs[0]
    while True:
        order.append(name)
        if name == outputs[0]:
            break
        if name not in after:
            node = graph.nodes[name]
            raise SpecError(f"{_where(name, node)}: no edge out of it; the chain from "
                            f"{inputs[0]!r} does not reach the Output node {outputs[0]!r}")
        name = after[name]
        if name in order:
            raise SpecError(f"{_where(name, graph.nodes[name])}: on a cycle; leanspike takes "
                            f"feed-forward chains only")
    stray = [k for k in graph.nodes if k not in order]
    if stray:
        raise SpecError(f"NIR graph: node(s) {stray} are not on the chain from {inputs[0]!r} to "
                        f"{outputs[0]!r}")
    return [(k, graph.nodes[k]) for k in order]


def resolve_dt(graph: nir.NIRGraph, dt: float | None) -> float:
    """The step the graph is read at (see the module docstring)."""
    if dt is None and "dt" in (graph.metadata or {}):
        dt = float(np.asarray(graph.metadata["dt"]))
    if dt is not None:
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
            raise ConfigError(f"dt: must be a positive number, got {dt!r}")
        return float(dt)
    implied = {k: implied_dt(n) for k, n in graph.nodes.items() if isinstance(n, NEURONS)}
    values = np.concatenate([v.ravel() for v in implied.values()]) if implied else np.ones(1)
    if np.all(np.isfinite(values)) and np.allclose(values, values[0], rtol=1e-6, atol=0):
        return float(values[0])
    spread = ", ".join(f"{k}: {float(v.min()):.4g}..{float(v.max()):.4g}"
                       for k, v in implied.items())
    raise ConfigError(f"NIR graph: declares no dt (metadata['dt']) and its neurons imply none "
                      f"(the step at which each has unit input gain: {spread}); pass dt, the "
                      f"step it was trained at (snnTorch 1e-4, Norse 1e-3, Sinabs 1)")


def _param(node, field: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    value = np.asarray(getattr(node, field), dtype=np.float64)
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise SpecError(f"{where}.{field}: shape {value.shape} does not fit the layer's output "
                        f"{shape}") from None


def _text(value) -> str:
    """A string as it comes back from HDF5 (str, bytes or a 0-d array of either)."""
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _number_or_tensor(values: np.ndarray, as_tensor: bool, dtype=torch.float32):
    flat = values.ravel()
    if not as_tensor and flat.size and np.all(flat == flat[0]):
        return float(flat[0])
    return torch.tensor(np.ascontiguousarray(values), dtype=dtype)


class _Reader:
    def __init__(self, graph: nir.NIRGraph, dt: float, timesteps: int | None):
        self.graph, self.dt = graph, dt
        meta = (graph.metadata or {}).get(META) or {}
        self.meta = meta
        self.timesteps = timesteps if timesteps is not None else int(
            np.asarray(meta.get("timesteps", DEFAULT_TIMESTEPS)))
        self.layers: list = []
        self.factor = 1.0  # a factor of the next weighted layer's input (SumPool2d, Scale)
        self.pending_neuron = False

    # -- neurons -----------------------------------------------------------------------------

    def neuron(self, name: str, node, shape: tuple[int, ...]):
        """(neuron, gain, drive): the spec neuron, and the input gain and constant drive the
        layer before it takes."""
        where, dt = _where(name, node), self.dt
        p = lambda f: _param(node, f, shape, where)  # noqa: E731
        leak = current_leak = None
        drive = np.zeros(shape)
        if isinstance(node, (nir.IF, nir.I)):
            gain, leak = dt * p("r"), np.ones(shape)
        elif isinstance(node, (nir.LIF, nir.LI)):
            tau = p("tau")
            leak, gain, drive = leak_of(tau, dt), dt * p("r") / tau, dt / tau * p("v_leak")
        else:
            tau_mem, tau_syn = p("tau_mem"), p("tau_syn")
            leak, current = leak_of(tau_mem, dt), leak_of(tau_syn, dt)
            gain = (dt / tau_syn) * p("w_in") * (dt / tau_mem) * p("r")
            if np.any(p("v_leak") != 0):
                raise SpecError(f"{where}.v_leak: nonzero; a current-based neuron's leak "
                                f"voltage has no spec equivalent (it would bypass the current)")
            if not np.allclose(current, current.ravel()[0], rtol=1e-6, atol=1e-9):
                raise SpecError(f"{where}.tau_syn: differs between neurons; the spec's "
                                f"current_leak is one number per layer")
            current_leak = float(current.ravel()[0])
        if np.any(leak < 0) or np.any(leak > 1):
            raise SpecError(f"{where}: its time constants give a per-step leak "
                            f"{float(leak.min()):.4g}..{float(leak.max()):.4g} at dt={dt:g}, "
                            f"outside [0, 1]; is dt right (pass dt, the step the graph was "
                            f"trained at)?")
        if current_leak is not None and not 0 <= current_leak <= 1:
            raise SpecError(f"{where}.tau_syn: gives current_leak {current_leak:.4g} at "
                            f"dt={dt:g}, outside [0, 1]; is dt right?")
        meta = node.metadata.get(META) if isinstance(node.metadata, dict) else None
        tensors = set(str(meta.get("tensors", "")).split(",")) if meta else set()
        f32 = np.asarray(getattr(node, "tau", getattr(node, "tau_mem", node.r))).dtype
        kwargs: dict = {"leak": _number_or_tensor(leak.astype(np.float32) if f32 == np.float32
                                                  else leak, "leak" in tensors),
                        "current_leak": current_leak or 0.0}
        if meta and self._agrees(meta, leak, current_leak, where):
            kwargs["leak"] = self._exact(meta["leak"])
            kwargs["current_leak"] = float(np.asarray(meta.get("current_leak", 0.0)))
            kwargs["v_init"] = self._exact(meta.get("v_init", 0.0))
        if isinstance(node, INTEGRATORS):
            return Integrator(**kwargs), gain, drive
        v_reset = p("v_reset")
        if np.any(v_reset != 0):
            raise SpecError(f"{where}.v_reset: nonzero ({float(v_reset.min()):g}.."
                            f"{float(v_reset.max()):g}); the spec resets to 0 or subtracts the "
                            f"threshold")
        th = np.asarray(node.v_threshold)
        th = np.broadcast_to(th.astype(np.float32) if th.dtype == np.float32 else th, shape)
        reset = _text(meta["reset"]) if meta and "reset" in meta else "zero"
        return LIF(threshold=_number_or_tensor(th, "threshold" in tensors), reset=reset,
                   **kwargs), gain, drive

    @staticmethod
    def _exact(value):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return float(arr)
        return torch.from_numpy(np.ascontiguousarray(arr).copy())

    @staticmethod
    def _agrees(meta: dict, leak: np.ndarray, current_leak, where: str) -> bool:
        """Whether leanspike's metadata still describes the node (another tool may have edited
        the NIR fields and kept the metadata)."""
        try:
            recorded = np.broadcast_to(np.asarray(meta["leak"], dtype=np.float64), leak.shape)
            same = np.allclose(recorded, leak, rtol=1e-6, atol=1e-9) and np.isclose(
                float(np.asarray(meta.get("current_leak", 0.0))), current_leak or 0.0,
                rtol=1e-6, atol=1e-9)
        except (KeyError, ValueError, TypeError):
            same = False
        if not same:
            warnings.warn(f"{where}: its leanspike metadata no longer matches its NIR fields; "
                          f"reading the NIR fields", NIRApproximationWarning, stacklevel=5)
        return same

    def fold(self, name: str, node, gain: np.ndarray, drive: np.ndarray, layer=None) -> None:
        """Put a neuron's input gain and constant drive into the weighted layer before it (or
        ``layer``, one of the weighted layers whose currents it sums)."""
        layer = self.layers[-1] if layer is None else layer
        if unit_gain(gain) and not np.any(drive):
            return
        if isinstance(layer, Conv2d):
            c = gain.shape[0]
            g, d = gain.reshape(c, -1), drive.reshape(c, -1)
            if not (np.allclose(g, g[:, :1], rtol=1e-9) and np.allclose(d, d[:, :1], rtol=1e-9)):
                raise SpecError(f"{_where(name, node)}: its input gain (dt r / tau) or leak "
                                f"voltage varies within a channel; a convolution's weights and "
                                f"bias are per channel")
            g, d = g[:, 0], d[:, 0]
            w_scale = torch.tensor(g, dtype=layer.weight.dtype).view(-1, 1, 1, 1)
        else:
            w_scale = torch.tensor(gain, dtype=layer.weight.dtype).view(-1, 1)
            g, d = gain, drive
        gt = torch.tensor(g, dtype=layer.weight.dtype)
        layer.weight = layer.weight * w_scale
        bias = layer.bias if layer.bias is not None else torch.zeros_like(gt)
        if layer.bias is not None or np.any(d):
            layer.bias = bias * gt + torch.tensor(d, dtype=gt.dtype)

    # -- the chain -----------------------------------------------------------------------------

    def take_factor(self, weight: torch.Tensor) -> torch.Tensor:
        factor, self.factor = self.factor, 1.0
        return weight if factor == 1.0 else weight * factor

    def spec(self) -> NetworkSpec:
        nodes = chain(self.graph)
        input_node = nodes[0][1]
        shape = tuple(int(d) for d in np.asarray(input_node.input_type["input"]).ravel())
        input_shape = shape
        for name, node in nodes[1:-1]:
            where = _where(name, node)
            meta = (node.metadata.get(META) or {}) if isinstance(node.metadata, dict) else {}
            count = len(self.layers)
            if isinstance(node, (nir.Affine, nir.Linear)):
                self.expect_neuron_done(name, node)
                w = torch.from_numpy(np.ascontiguousarray(node.weight).copy())
                if w.dim() != 2 or len(shape) != 1 or w.shape[1] != shape[0]:
                    raise SpecError(f"{where}: weight {tuple(w.shape)} does not take the "
                                    f"previous node's output {shape} (a flat input of "
                                    f"{w.shape[-1]} is needed)")
                bias = (torch.from_numpy(np.ascontiguousarray(node.bias).copy())
                        if isinstance(node, nir.Affine) else None)
                self.layers.append(Linear(self.take_factor(w), bias, self.mask(meta)))
                shape, self.pending_neuron = (w.shape[0],), True
            elif isinstance(node, (nir.Conv1d, nir.Conv2d)):
                self.expect_neuron_done(name, node)
                layer = self.conv(name, node, shape, meta)
                self.layers.append(layer)
                shape, self.pending_neuron = conv_out(layer, shape), True
            elif isinstance(node, NEURONS):
                if not self.pending_neuron:
                    raise SpecError(f"{where}: a neuron must follow a weighted layer (Affine, "
                                    f"Linear or Conv2d) that has none yet")
                neuron, gain, drive = self.neuron(name, node, shape)
                self.fold(name, node, gain, drive)
                self.layers[-1].neuron = neuron
                self.pending_neuron = False
                self.neuron_node = (name, node)
            elif isinstance(node, nir.Scale):
                scale = np.asarray(node.scale, dtype=np.float64).ravel()
                if not np.all(scale == scale[0]):
                    raise SpecError(f"{where}: a Scale that differs between elements has no "
                                    f"spec equivalent")
                last = self.layers[-1] if self.layers else None
                if (last is not None and isinstance(getattr(last, "neuron", None), LIF)
                        and last.neuron.amplitude == 1.0 and self.follows_neuron):
                    last.neuron.amplitude = float(np.asarray(meta.get("amplitude", scale[0])))
                else:
                    self.factor *= float(scale[0])
            elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
                layer = self.pool(name, node, shape, meta)
                self.layers.append(layer)
                shape = (shape[0], *((shape[d + 1] - layer.kernel_size[d]) // layer.stride[d] + 1
                                     for d in (0, 1)))
            elif isinstance(node, nir.Flatten):
                if node.end_dim not in (-1, len(shape) - 1) or node.start_dim not in (0, 1):
                    raise SpecError(f"{where}: only flattening a whole input is "
                                    f"supported (start_dim 0, end_dim -1), got start_dim "
                                    f"{node.start_dim}, end_dim {node.end_dim} of {shape}")
                self.layers.append(Flatten())
                shape = (int(np.prod(shape)),)
            else:
                raise SpecError(f"{where}: no leanspike equivalent; supported node types: "
                                f"{', '.join(SUPPORTED)}")
            self.follows_neuron = isinstance(node, NEURONS)
            if len(self.layers) > count:  # the layer's name and inputs, as leanspike wrote them
                if "name" in meta:
                    self.layers[-1].name = _text(meta["name"])
                if "inputs" in meta:
                    self.layers[-1].inputs = (count - 1,)
        if self.pending_neuron:
            name, node = next((k, n) for k, n in reversed(nodes)
                              if isinstance(n, (nir.Affine, nir.Linear, nir.Conv2d)))
            raise SpecError(f"{_where(name, node)}: the last weighted layer has no neuron after "
                            f"it; the spec's output is a neuron's potential (LI, I) or spike "
                            f"count (LIF)")
        if self.factor != 1.0:
            raise SpecError("NIR graph: a Scale or SumPool2d after the last weighted layer has "
                            "no spec equivalent")
        for k, layer in enumerate(self.layers[:-1]):
            if isinstance(getattr(layer, "neuron", None), Integrator):
                raise SpecError(f"NIR graph: layer {k} has a non-spiking neuron (LI, I or "
                                f"CubaLI); only the output layer may integrate without spiking")
        return self.finish(input_shape)

    def finish(self, input_shape: tuple[int, ...]) -> NetworkSpec:
        metadata = {}
        if "spec_metadata" in self.meta:
            metadata = json.loads(_text(self.meta["spec_metadata"]))
        spec = NetworkSpec(input_shape, self.layers, self.timesteps, metadata=metadata)
        try:
            return spec.validate()
        except SpecError as exc:
            raise SpecError(f"NIR graph as a spec: {exc}") from exc

    follows_neuron = False

    def expect_neuron_done(self, name: str, node) -> None:
        if self.pending_neuron:
            raise SpecError(f"{_where(name, node)}: follows a weighted layer that has no neuron; "
                            f"each Affine, Linear or Conv2d needs its neuron before the next")

    @staticmethod
    def mask(meta: dict):
        if "mask" not in meta:
            return None
        return torch.from_numpy(np.ascontiguousarray(meta["mask"]).copy())

    def conv(self, name: str, node, shape, meta: dict) -> Conv1d | Conv2d:
        """A NIR Conv1d or Conv2d as the spec's layer of the same dimensions."""
        where = _where(name, node)
        n = 1 if isinstance(node, nir.Conv1d) else 2
        w = torch.from_numpy(np.ascontiguousarray(node.weight).copy())
        if len(shape) != n + 1 or w.dim() != n + 2 or w.shape[1] != shape[0]:
            raise SpecError(f"{where}: weight {tuple(w.shape)} does not take the previous "
                            f"node's output {shape}")
        ints = lambda v: tuple(int(x) for x in np.broadcast_to(np.asarray(v), (n,)))  # noqa: E731
        if ints(node.dilation) != (1,) * n or int(node.groups) != 1:
            raise SpecError(f"{where}: dilation {ints(node.dilation)} and groups {node.groups} "
                            f"are not in the spec (1 and 1 only)")
        stride, padding = ints(node.stride), node.padding
        if isinstance(padding, str):
            if padding == "valid":
                padding = (0,) * n
            elif stride == (1,) * n and all(k % 2 for k in w.shape[2:]):
                padding = tuple(k // 2 for k in w.shape[2:])
            else:
                raise SpecError(f"{where}: padding 'same' with an even kernel or a stride is "
                                f"asymmetric; the spec pads symmetrically")
        bias = torch.from_numpy(np.ascontiguousarray(node.bias).copy())
        if meta.get("no_bias") and not bool(bias.any()):
            bias = None
        cls = Conv1d if n == 1 else Conv2d
        return cls(self.take_factor(w), bias, self.mask(meta), None, stride=stride,
                   padding=ints(padding))

    def pool(self, name: str, node, shape, meta: dict):
        where = _where(name, node)
        pair = lambda v: tuple(int(x) for x in np.broadcast_to(np.asarray(v), (2,)))  # noqa: E731
        kernel, stride, padding = pair(node.kernel_size), pair(node.stride), pair(node.padding)
        if padding != (0, 0):
            raise SpecError(f"{where}: padding {padding}; the spec pools unpadded windows")
        if len(shape) != 3:
            raise SpecError(f"{where}: needs a (C, H, W) input, got {shape}")
        if isinstance(node, nir.SumPool2d):
            if meta.get("layer") == "MaxPool2d":
                return MaxPool2d(kernel, stride)
            self.factor *= kernel[0] * kernel[1]  # a sum is the mean times the window size
        return AvgPool2d(kernel, stride)


# -- graphs ------------------------------------------------------------------------------------


def structure(graph: nir.NIRGraph) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """(order, preds, succs) of a feed-forward graph: its nodes in an order in which every node
    comes after the nodes it takes input from (leanspike's own layer order where its metadata
    records one), and each node's edges in and out in the order the graph lists them. A
    subgraph, a cycle, a node off every path from the Input to the Output, or more than one
    edge into the Output is refused, naming the node."""
    inputs, outputs = _ends(graph, "graphs")
    preds: dict[str, list[str]] = {k: [] for k in graph.nodes}
    succs: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in dict.fromkeys((str(a), str(b)) for a, b in graph.edges):
        for end in (a, b):
            if end not in graph.nodes:
                raise SpecError(f"NIR graph: edge ({a!r}, {b!r}) names no node {end!r}")
        preds[b].append(a)
        succs[a].append(b)
    source, sink = inputs[0], outputs[0]
    for name, table, way in ((source, preds, "into"), (sink, succs, "out of")):
        if table[name]:
            raise SpecError(f"{_where(name, graph.nodes[name])}: an edge {way} it "
                            f"({table[name][0]!r})")
    if len(preds[sink]) > 1:
        raise SpecError(f"{_where(sink, graph.nodes[sink])}: more than one edge into it "
                        f"{preds[sink]}: a spec has one output layer, so each branch must be "
                        f"summed into a neuron (or a summing Scale) before the Output")
    position = {k: p for p, k in enumerate(graph.nodes)}

    def index(name: str):
        node = graph.nodes[name]
        meta = (node.metadata.get(META) or {}) if isinstance(node.metadata, dict) else {}
        return None if "index" not in meta else int(np.asarray(meta["index"]))

    keys: dict[str, tuple] = {source: (-1, 0, position[source])}
    waiting = {k: len(v) for k, v in preds.items()}
    ready, order = [keys[source]], []
    names = {keys[source]: source}
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for nxt in succs[name]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                own = index(nxt)
                keys[nxt] = ((own, 0, position[nxt]) if own is not None else
                             (max(keys[p][0] for p in preds[nxt]), 1, position[nxt]))
                names[keys[nxt]] = nxt
                heapq.heappush(ready, keys[nxt])
    left = [k for k in graph.nodes if k not in keys]
    if left:
        for name in left:  # name a node that is on a cycle, not one downstream of it
            seen, todo = set(), list(succs[name])
            while todo:
                k = todo.pop()
                if k == name:
                    raise SpecError(f"{_where(name, graph.nodes[name])}: on a cycle (a "
                                    f"recurrent connection: an edge back into it from a node "
                                    f"it feeds); leanspike takes feed-forward graphs only")
                if k not in seen and k in left:
                    seen.add(k)
                    todo.extend(succs[k])
        name = left[0]
        raise SpecError(f"{_where(name, graph.nodes[name])}: not reachable from the Input "
                        f"node {source!r}")
    reach, todo = {sink}, [sink]
    while todo:
        for p in preds[todo.pop()]:
            if p not in reach:
                reach.add(p)
                todo.append(p)
    stray = [k for k in order if k not in reach]
    if stray:
        raise SpecError(f"{_where(stray[0], graph.nodes[stray[0]])}: does not reach the Output "
                        f"node {sink!r}; a spec has one output, and every node feeds it")
    return order, preds, succs


@dataclass
class _Value:
    """What a NIR node's output is in spec terms: the output of spec layer ``index``
    (``INPUT``: the network's input), or its current when ``current`` (a weighted layer whose
    neuron is still to come), times ``factor`` (a Scale or SumPool2d the next weighted layer
    takes); ``neuron``: the NIR neuron node that gave it, while nothing else has."""

    index: int
    current: bool = False
    factor: float = 1.0
    neuron: str | None = None


class _GraphReader(_Reader):
    """A graph with branches and merges as a graph spec (see ``from_nir``)."""

    def spec(self) -> NetworkSpec:
        order, self.preds, self.succs = structure(self.graph)
        nodes = self.graph.nodes
        input_shape = tuple(int(d) for d in
                            np.asarray(nodes[order[0]].input_type["input"]).ravel())
        self.shapes: dict[int, tuple[int, ...]] = {INPUT: input_shape}
        self.origin: dict[int, str] = {INPUT: order[0]}  # the NIR node of each spec layer
        self.explicit: dict[int, bool] = {}  # whether leanspike's export named the inputs
        self.values: dict[str, _Value] = {order[0]: _Value(INPUT)}
        for name in order[1:-1]:
            self.values[name] = self.read(name, nodes[name])
        sink = order[-1]
        value = self.values[self.preds[sink][0]]
        if value.current:
            raise SpecError(f"{self.where(value.index)}: the last weighted layer has no neuron "
                            f"after it; the spec's output is a neuron's potential (LI, I) or "
                            f"spike count (LIF)")
        if value.factor != 1.0:
            raise SpecError("NIR graph: a Scale or SumPool2d after the last weighted layer has "
                            "no spec equivalent")
        if value.index != len(self.layers) - 1:
            raise SpecError(f"{_where(sink, nodes[sink])}: takes {self.where(value.index)}, "
                            f"not the last layer")
        for i, layer in enumerate(self.layers):
            ins = tuple(layer.inputs)
            layer.inputs = None if ins == (i - 1,) and not self.explicit.get(i) else ins
        return self.finish(input_shape)

    def where(self, index: int) -> str:
        name = self.origin[index]
        return _where(name, self.graph.nodes[name])

    def inputs(self, name: str, node) -> list[_Value]:
        """The values of the nodes ``name`` takes, in the order leanspike's export recorded
        (the spec layer's inputs), else the graph's edge order."""
        values = [self.values[p] for p in self.preds[name]]
        recorded = self.meta_of(node).get("inputs")
        if recorded is not None:
            want = [int(j) for j in np.asarray(recorded).ravel()]
            if sorted(want) == sorted(v.index for v in values):
                values.sort(key=lambda v: want.index(v.index))
        return values

    @staticmethod
    def meta_of(node) -> dict:
        return (node.metadata.get(META) or {}) if isinstance(node.metadata, dict) else {}

    def append(self, layer, inputs: tuple[int, ...], name: str, node,
               shape: tuple[int, ...], own: bool = True) -> int:
        """Add ``layer`` taking ``inputs``; leanspike's metadata on ``node`` gives its name
        where the layer is the node's own (not a sum before it)."""
        meta = self.meta_of(node) if own else {}
        index = len(self.layers)
        layer.inputs = tuple(inputs)
        if "name" in meta and not any(la.name == _text(meta["name"]) for la in self.layers):
            layer.name = _text(meta["name"])
        self.explicit[index] = "inputs" in meta
        self.layers.append(layer)
        self.shapes[index], self.origin[index] = tuple(shape), name
        return index

    def sum(self, name: str, node, values: list[_Value], own: bool = False) -> _Value:
        """One value: the only input, or the spikes of several summed (SEW's Add without a
        neuron: NIR sums a node's inputs before it acts); ``own``: the sum is the node itself
        (leanspike's Scale of 1), not one before it."""
        if len(values) == 1:
            return values[0]
        where = _where(name, node)
        for v in values:
            if v.current:
                raise SpecError(f"{where}: sums the current of {self.where(v.index)} (a "
                                f"weighted layer without its neuron) with other inputs; a sum "
                                f"of currents needs the neuron that integrates it (a neuron "
                                f"node, the spec's Add with a neuron)")
            if v.factor != 1.0:
                raise SpecError(f"{where}: sums an input scaled by {v.factor:g} (a Scale or "
                                f"SumPool2d before it); the spec's Add sums its inputs as they "
                                f"are")
        shapes = [self.shapes[v.index] for v in values]
        if any(sh != shapes[0] for sh in shapes):
            raise SpecError(f"{where}: its inputs differ in shape {shapes}")
        return _Value(self.append(Add(), tuple(v.index for v in values), name, node, shapes[0],
                                  own))

    def spikes(self, name: str, node) -> _Value:
        """The one value a weighted layer, pooling or Flatten node takes (a sum of several)."""
        value = self.sum(name, node, self.inputs(name, node))
        if value.current:
            raise SpecError(f"{_where(name, node)}: follows a weighted layer that has no "
                            f"neuron ({self.where(value.index)}); each Affine, Linear or "
                            f"Conv2d needs its neuron before the next")
        return value

    def read(self, name: str, node) -> _Value:
        where, meta = _where(name, node), self.meta_of(node)
        if isinstance(node, (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)):
            value = self.spikes(name, node)
            shape = self.shapes[value.index]
            self.factor = value.factor
            if isinstance(node, (nir.Affine, nir.Linear)):
                w = torch.from_numpy(np.ascontiguousarray(node.weight).copy())
                if w.dim() != 2 or len(shape) != 1 or w.shape[1] != shape[0]:
                    raise SpecError(f"{where}: weight {tuple(w.shape)} does not take its "
                                    f"input's output {shape} (a flat input of {w.shape[-1]} is "
                                    f"needed)")
                bias = (torch.from_numpy(np.ascontiguousarray(node.bias).copy())
                        if isinstance(node, nir.Affine) else None)
                layer = Linear(self.take_factor(w), bias, self.mask(meta))
                out = (w.shape[0],)
            else:
                layer = self.conv(name, node, shape, meta)
                out = conv_out(layer, shape)
            return _Value(self.append(layer, (value.index,), name, node, out), current=True)
        if isinstance(node, NEURONS):
            return self.population(name, node, self.inputs(name, node))
        if isinstance(node, nir.Scale):
            scale = np.asarray(node.scale, dtype=np.float64).ravel()
            if not np.all(scale == scale[0]):
                raise SpecError(f"{where}: a Scale that differs between elements has no "
                                f"spec equivalent")
            values = self.inputs(name, node)
            if len(values) > 1:  # leanspike writes SEW's Add as a Scale of 1 its inputs sum at
                value = self.sum(name, node, values, own=True)
                return _Value(value.index, factor=float(scale[0]))
            value = values[0]
            if value.current:
                raise SpecError(f"{where}: scales the current of {self.where(value.index)} "
                                f"before its neuron; the spec has no such factor")
            layer = self.layers[value.index] if value.index != INPUT else None
            if (value.neuron is not None and isinstance(layer.neuron, LIF)
                    and layer.neuron.amplitude == 1.0 and self.succs[value.neuron] == [name]):
                layer.neuron.amplitude = float(np.asarray(meta.get("amplitude", scale[0])))
                return _Value(value.index)
            return _Value(value.index, factor=value.factor * float(scale[0]))
        if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            value = self.spikes(name, node)
            shape = self.shapes[value.index]
            self.factor = value.factor
            layer = self.pool(name, node, shape, meta)
            factor, self.factor = self.factor, 1.0
            out = (shape[0], *((shape[d + 1] - layer.kernel_size[d]) // layer.stride[d] + 1
                               for d in (0, 1)))
            return _Value(self.append(layer, (value.index,), name, node, out), factor=factor)
        if isinstance(node, nir.Flatten):
            value = self.spikes(name, node)
            shape = self.shapes[value.index]
            if node.end_dim not in (-1, len(shape) - 1) or node.start_dim not in (0, 1):
                raise SpecError(f"{where}: only flattening a whole input is supported "
                                f"(start_dim 0, end_dim -1), got start_dim {node.start_dim}, "
                                f"end_dim {node.end_dim} of {shape}")
            index = self.append(Flatten(), (value.index,), name, node, (int(np.prod(shape)),))
            return _Value(index, factor=value.factor)
        raise SpecError(f"{where}: no leanspike equivalent; supported node types: "
                        f"{', '.join(SUPPORTED)}")

    def population(self, name: str, node, values: list[_Value]) -> _Value:
        """A neuron node: the neuron of the weighted layer before it, or, with several inputs,
        the spec's Add with a neuron (a residual sum of currents and shortcut spikes)."""
        where = _where(name, node)
        if len(values) == 1:
            value = values[0]
            if not value.current:
                raise SpecError(f"{where}: a neuron must follow a weighted layer (Affine, "
                                f"Linear or Conv2d) that has none yet, or sum two or more "
                                f"inputs")
            if self.succs[self.origin[value.index]] != [name]:
                raise SpecError(f"{self.where(value.index)}: its current feeds this neuron "
                                f"({name!r}) and other nodes too; the spec gives a weighted "
                                f"layer either its own neuron or Adds that sum its current")
            layer = self.layers[value.index]
            neuron, gain, drive = self.neuron(name, node, self.shapes[value.index])
            self.fold(name, node, gain, drive, layer)
            layer.neuron = neuron
            return _Value(value.index, neuron=name)
        shapes = [self.shapes[v.index] for v in values]
        if any(sh != shapes[0] for sh in shapes):
            raise SpecError(f"{where}: its inputs differ in shape {shapes}")
        neuron, gain, drive = self.neuron(name, node, shapes[0])
        currents = [v for v in values if v.current]
        for v in values:
            if not v.current and v.factor != 1.0:
                raise SpecError(f"{where}: sums an input scaled by {v.factor:g} (a Scale or "
                                f"SumPool2d before it); the spec's Add takes spikes through "
                                f"unit synapses")
        folds = not unit_gain(gain) or bool(np.any(drive))
        if folds:
            if len(currents) < len(values) and not unit_gain(gain):
                raise SpecError(f"{where}: its input gain (dt r / tau) is not 1, and it sums "
                                f"spikes that come through no weighted layer to take it; the "
                                f"spec's Add takes them through unit synapses")
            if not currents:
                raise SpecError(f"{where}: its leak voltage (v_leak) needs a weighted input "
                                f"whose bias takes it")
            for v in currents:
                if self.succs[self.origin[v.index]] != [name]:
                    raise SpecError(f"{self.where(v.index)}: feeds {name!r}, whose input gain "
                                    f"or leak voltage its weights would take, and other nodes "
                                    f"too")
        for k, v in enumerate(currents):
            self.fold(name, node, gain, drive if k == 0 else np.zeros_like(drive),
                      self.layers[v.index])
        index = self.append(Add(neuron=neuron), tuple(v.index for v in values), name, node,
                            shapes[0])
        return _Value(index, neuron=name)


def conv_out(layer: Conv1d | Conv2d, shape) -> tuple[int, ...]:
    kernel = layer.weight.shape[2:]
    return (layer.weight.shape[0], *((shape[d + 1] + 2 * layer.padding[d] - kernel[d])
                                     // layer.stride[d] + 1 for d in range(len(kernel))))


def from_nir(graph: nir.NIRGraph, *, dt: float | None = None,
             timesteps: int | None = None) -> NetworkSpec:
    """The spec of a feed-forward NIR graph (a chain, or a graph with branches and merges:
    a graph spec) read at step ``dt`` for ``timesteps`` steps (both from the graph where it
    says, see the module docstring)."""
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    reader = _Reader if is_chain(graph) else _GraphReader
    return reader(graph, resolve_dt(graph, dt), timesteps).spec()


def is_chain(graph: nir.NIRGraph) -> bool:
    """No node with more than one edge into it or out of it (a branch, a merge or a recurrent
    connection): what the chain reader takes (and names what else it refuses)."""
    into, out = set(), set()
    for a, b in set(map(tuple, graph.edges)):
        if a in out or b in into:
            return False
        out.add(a)
        into.add(b)
    return True
