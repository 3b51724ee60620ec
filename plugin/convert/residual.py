"""Read a trained residual ANN as the graph of layers a network spec describes (format 7).

A residual network is a chain with branches that join in a sum: the zoo's ``resnet20`` (basic
blocks ``act(residual(x) + shortcut(x))``), or any model whose forward torch.fx can read as
Conv1d / Conv2d / Linear layers, their activations (ReLU, ClippedReLU, QCFS), average and max
pooling, Flatten, Dropout / Identity (dropped) and additions of two tensors. Batch norm that
directly follows a convolution or Linear is folded into it (as for chains), and
``AdaptiveAvgPool2d`` becomes the fixed ``AvgPool2d`` it is at the model's input size.

Every activation becomes the neuron of the node that computes its input, so the spec is the
converted (current-adding) spiking ResNet of ``leanspike.zoo.residual.sew_resnet(style=
"current")``:

- a weighted layer followed by an activation: the layer with a LIF neuron;
- a weighted layer whose output is summed (a block's second convolution, a 1x1 shortcut
  convolution): the layer without a neuron, its current;
- an identity shortcut: the block input's spikes, as they are (amplitude times spikes, unit
  weights);
- an addition followed by an activation: ``Add(neuron=LIF(...), inputs=(conv2, shortcut))``,
  whose population integrates the sum of those currents. Its threshold is calibrated on the
  sum, the activation's own input; an addition without an activation (SEW ResNet's ADD of
  activations) is an ``Add`` without a neuron;
- the last layer: a weighted layer with an Integrator (the logits).

A spiking layer passes on ``amplitude * s[t]``, whose rate approximates the ANN's activation
(``leanspike.convert.methods``), so a shortcut's spikes add to the sum what the ANN's shortcut
adds, as a spiking input adds to a weighted layer's current in a chain. (``iir`` keeps spikes of
amplitude 1 and the ANN's weights, so a sum weighs its branches by their thresholds' ratio, not
as the ANN does: as in a chain, it is a starting point for training, not a converter to use
as it converts.) Anything the spec cannot describe is refused with the layer's name.

Chains (no addition) are read by ``leanspike.convert.chain``, which also reads custom time
loops and commutes max pooling written before the activation; ``leanspike.convert.convert``
uses this reader only for a model whose forward sums branches.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.utils.data import DataLoader, Dataset

from leanspike import spec as S
from leanspike.capture import _functional_module, _is_shape_query, trace
from leanspike.convert.calibration import LayerStats, record_stats
from leanspike.convert.chain import (
    _FUSIONS,
    _IGNORED,
    ACTIVATIONS,
    CONV_MODULES,
    POOL_MODULES,
    _unsupported,
    pool_problem,
    shape_layer,
    spec_conv,
)
from leanspike.errors import ConfigError

_ADDS = (operator.add, operator.iadd, torch.add)
PRE, POST = "pre", "post"  # a node's value before its activation, or its output


@dataclass
class GraphNode:
    """One node of the read graph: a weighted layer, a sum of two or more branches, or a
    pooling / Flatten; ``inputs`` index earlier nodes (``S.INPUT`` for the network input)."""

    name: str
    kind: str  # "weighted", "add" or "shape"
    module: nn.Module | None
    inputs: tuple[int, ...]
    activation: nn.Module | None = None
    activation_name: str | None = None


@dataclass
class LayerGraph:
    model: GraphANN  # the batch-norm-folded ANN, node by node (its probes see pre-activations)
    nodes: list[GraphNode] = field(default_factory=list)

    def hidden(self) -> list[int]:
        """The nodes that become LIF populations: those with an activation, in order."""
        return [i for i, n in enumerate(self.nodes) if n.activation is not None]


class GraphANN(nn.Module):
    """The read graph as a torch module, computing what the original ANN computes; the
    ``probes`` (identities) sit on each activation's input, for calibration."""

    def __init__(self, nodes: list[GraphNode]):
        super().__init__()
        self.layers = nn.ModuleList(n.module if n.module is not None else nn.Identity()
                                    for n in nodes)
        self.activations = nn.ModuleList(n.activation if n.activation is not None
                                         else nn.Identity() for n in nodes)
        self.probes = nn.ModuleList(nn.Identity() for _ in nodes)
        self.kinds = [n.kind for n in nodes]
        self.sources = [n.inputs for n in nodes]
        self.active = [n.activation is not None for n in nodes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h: dict[int, torch.Tensor] = {S.INPUT: x}
        for i, (kind, sources) in enumerate(zip(self.kinds, self.sources, strict=True)):
            if kind == "add":
                v = h[sources[0]]
                for j in sources[1:]:
                    v = v + h[j]
            else:
                v = self.layers[i](h[sources[0]])
            if self.active[i]:
                v = self.activations[i](self.probes[i](v))
            h[i] = v
        return h[len(self.kinds) - 1]


def has_branches(model: nn.Module) -> bool:
    """Whether ``model``'s forward (as torch.fx reads it) sums tensors: a residual network.
    False when fx cannot read it (the chain reader then says why)."""
    try:
        gm = trace(copy.deepcopy(model), lambda m: False, ACTIVATIONS)
    except ConfigError:
        return False
    return any(_is_add(n) for n in gm.graph.nodes)


def _is_add(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target in _ADDS) or (
        node.op == "call_method" and node.target in ("add", "add_"))


def _adaptive_avg_pool(name: str, m: nn.Module, node: fx.Node) -> nn.AvgPool2d:
    shape = tuple(node.args[0].meta["tensor_meta"].shape[2:])
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    out = tuple(s if o is None else o for s, o in zip(shape, out, strict=True))
    if any(s % o for s, o in zip(shape, out, strict=True)):
        raise _unsupported(name, m, f"adaptive pooling of {shape[0]}x{shape[1]} to "
                                    f"{out[0]}x{out[1]} has no fixed kernel; use an AvgPool2d")
    kernel = tuple(s // o for s, o in zip(shape, out, strict=True))
    return nn.AvgPool2d(kernel, kernel)


class _Reader:
    def __init__(self, model: nn.Module, input_shape: tuple[int, ...]):
        self.gm = trace(model, lambda m: False, ACTIVATIONS)
        try:
            ShapeProp(self.gm).propagate(torch.zeros(1, *input_shape))
        except Exception as exc:  # whatever the model's own layers raise
            raise ConfigError(f"cannot convert: the model does not run on the calibration "
                              f"data's input shape {tuple(input_shape)} "
                              f"({type(exc).__name__}: {exc})") from None
        self.modules = dict(self.gm.named_modules())
        self.nodes: list[GraphNode] = []
        self.value: dict[fx.Node, tuple[int, str]] = {}  # fx node -> (our node, PRE | POST)
        self.raw_users: dict[int, list[int]] = {}  # our node -> the nodes using it before act

    def _use(self, arg, user: int | None = None) -> tuple[int, str]:
        if not isinstance(arg, fx.Node) or arg not in self.value:
            raise ConfigError(f"cannot convert: {arg!r} is not the output of a layer")
        k, stage = self.value[arg]
        if stage == PRE and k != S.INPUT:
            if self.nodes[k].activation is not None:
                raise ConfigError(f"cannot convert: the input of activation "
                                  f"{self.nodes[k].activation_name!r} is also used elsewhere; "
                                  f"a neuron population's input current is not an output")
            self.raw_users.setdefault(k, []).append(len(self.nodes) if user is None else user)
        return k, stage

    def _append(self, node: GraphNode, fx_node: fx.Node, stage: str) -> None:
        self.nodes.append(node)
        self.value[fx_node] = (len(self.nodes) - 1, stage)

    def _activation(self, name: str, m: nn.Module, node: fx.Node) -> None:
        arg = node.args[0]
        k, stage = self.value.get(arg, (None, None))
        target = self.nodes[k] if k is not None and k != S.INPUT else None
        if target is None or stage != PRE or target.kind == "shape" or target.activation \
                is not None or self.raw_users.get(k):
            raise _unsupported(name, m, "an activation must directly follow a Conv1d/Conv2d or "
                                        "Linear layer (after its batch norm) or a sum of "
                                        "branches, and be the only use of its input")
        target.activation, target.activation_name = m, name
        self.value[node] = (k, POST)

    def _module(self, name: str, m: nn.Module, node: fx.Node) -> None:
        arg = node.args[0] if node.args else None
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            k, stage = self.value.get(arg, (None, None))
            prev = self.nodes[k] if k is not None and k != S.INPUT else None
            fuse = next((f for w, bn, f in _FUSIONS
                         if prev is not None and isinstance(prev.module, w) and isinstance(m, bn)),
                        None)
            if fuse is None or stage != PRE or prev.activation is not None or \
                    self.raw_users.get(k):
                raise ConfigError(f"cannot fold batch norm {name}: it does not directly follow "
                                  f"a Conv2d/Linear")
            prev.module = fuse(prev.module, m)
            self.value[node] = (k, PRE)
        elif isinstance(m, _IGNORED):
            self.value[node] = self.value[arg]
        elif isinstance(m, CONV_MODULES) or isinstance(m, nn.Linear):
            if isinstance(m, CONV_MODULES) and (
                    m.groups != 1 or any(d != 1 for d in m.dilation)
                    or isinstance(m.padding, str) or m.padding_mode != "zeros"):
                raise _unsupported(name, m, "only groups=1, dilation=1 and numeric zero padding")
            k, _ = self._use(arg)
            self._append(GraphNode(name, "weighted", m, (k,)), node, PRE)
        elif isinstance(m, ACTIVATIONS):
            self._activation(name, m, node)
        elif isinstance(m, (*POOL_MODULES, nn.Flatten, nn.AdaptiveAvgPool2d)):
            if isinstance(m, nn.AdaptiveAvgPool2d):
                m = _adaptive_avg_pool(name, m, node)
            problem = None if isinstance(m, nn.Flatten) else pool_problem(m)
            if problem:
                raise _unsupported(name, m, problem)
            k, stage = self.value.get(arg, (None, None))
            if k is not None and k != S.INPUT and stage == PRE:
                raise _unsupported(name, m, "pooling or flattening between a weighted layer "
                                            "or a sum and its activation cannot be expressed "
                                            "with spikes in a residual network (pool after the "
                                            "activation)")
            k, _ = self._use(arg)
            self._append(GraphNode(name, "shape", m, (k,)), node, POST)
        else:
            raise _unsupported(name, m)

    def _add(self, node: fx.Node) -> None:
        args = list(node.args)
        if len(args) != 2 or node.kwargs or not all(isinstance(a, fx.Node) for a in args):
            raise ConfigError(f"cannot convert {node.name}: only the sum of two layers' outputs "
                              f"(a + b) is supported, got {node.format_node()}")
        ins = tuple(self._use(a, len(self.nodes))[0] for a in args)
        if len(set(ins)) != len(ins):
            raise ConfigError(f"cannot convert {node.name}: it adds a layer's output to itself")
        act = next(iter(node.users), None) if len(node.users) == 1 else None
        prefix = ""
        if act is not None and act.op == "call_module":
            prefix = act.target.rsplit(".", 1)[0] + "." if "." in act.target else ""
        name = f"{prefix}add"
        taken = {n.name for n in self.nodes}
        if name in taken:
            name = next(f"{prefix}add{k}" for k in range(1, len(self.nodes) + 2)
                        if f"{prefix}add{k}" not in taken)
        self._append(GraphNode(name, "add", None, ins), node, PRE)

    def read(self) -> list[GraphNode]:
        placeholders = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                placeholders += 1
                if placeholders > 1:
                    raise ConfigError(f"cannot convert: the forward takes more than one input "
                                      f"({node.name})")
                self.value[node] = (S.INPUT, POST)
            elif node.op == "call_module":
                self._module(str(node.target), self.modules[node.target], node)
            elif _is_add(node):
                self._add(node)
            elif node.op in ("call_function", "call_method"):
                if _is_shape_query(node):
                    continue
                found = _functional_module(node)
                if found is None:
                    what = getattr(node.target, "__name__", str(node.target))
                    raise ConfigError(f"cannot convert {node.name} ({what}): not a layer the "
                                      f"network spec describes")
                self._module(node.name, found[0], node)
            elif node.op == "output":
                return self._finish(node.args[0])
            else:
                raise ConfigError(f"cannot convert {node.name} ({node.op} {node.target}): not a "
                                  f"layer the network spec describes")
        raise ConfigError("cannot convert: the forward returns nothing")

    def _finish(self, result) -> list[GraphNode]:
        nodes = self.nodes
        if not isinstance(result, fx.Node) or result not in self.value:
            raise ConfigError("cannot convert: the forward must return one layer's output")
        k, _ = self.value[result]
        last = len(nodes) - 1
        if k != last or nodes[k].kind != "weighted":
            raise ConfigError("cannot convert: the output must be the last Conv/Linear layer "
                              "(its logits)")
        if nodes[k].activation is not None:
            raise _unsupported(nodes[k].activation_name, nodes[k].activation,
                               "the output layer must not have an activation (its output are "
                               "the logits, which the SNN reads from the membrane potential)")
        users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
        for i, n in enumerate(nodes):
            for j in n.inputs:
                if j != S.INPUT:
                    users[j].append(i)
        for i, n in enumerate(nodes[:-1]):
            if not users[i]:
                raise ConfigError(f"cannot convert: {n.name!r} feeds no later layer")
            if n.activation is None and n.kind != "shape":
                bad = [u for u in self.raw_users.get(i, [])
                       if not (nodes[u].kind == "add" and nodes[u].activation is not None)]
                if n.kind == "weighted" and bad:
                    raise _unsupported(n.name, n.module, "every hidden weighted layer needs an "
                                       "activation, or must be summed into a branch sum that has "
                                       "one (a residual block's last convolution)")
        for n in nodes:
            if n.kind == "add" and n.activation is None:
                currents = [j for j in n.inputs if j != S.INPUT and nodes[j].activation is None
                            and nodes[j].kind != "shape"]
                if currents:
                    raise ConfigError(f"cannot convert {n.name!r}: it sums the output of "
                                      f"{nodes[currents[0]].name!r}, which has no activation, "
                                      f"and has no activation itself")
        return nodes


def read_graph(model: nn.Module, input_shape: tuple[int, ...]) -> LayerGraph:
    """Fold batch norm and read ``model`` (on a copy) as a graph of nodes; raise, naming the
    layer, on anything a spec cannot describe."""
    model = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        nodes = _Reader(model, tuple(int(d) for d in input_shape)).read()
    if not any(n.kind == "weighted" for n in nodes):
        raise ConfigError("cannot convert: the model has no Conv1d, Conv2d or Linear layer")
    return LayerGraph(GraphANN(nodes), nodes)


def collect_graph_stats(graph: LayerGraph, data: Dataset | DataLoader, *,
                        max_batches: int | None = None, sample_size: int = 200_000,
                        device: str | torch.device = "cpu", seed: int = 0) -> list[LayerStats]:
    """``collect_stats`` for a graph: per population (``graph.hidden()``), the pre-activations
    it will receive, recorded at its activation's input (of an Add's, the sum)."""
    probes = [(graph.nodes[i].activation_name, graph.model.probes[i]) for i in graph.hidden()]
    return record_stats(graph.model, probes, data, max_batches=max_batches,
                        sample_size=sample_size, device=device, seed=seed)


def _weighted(module: nn.Module, neuron, **node) -> S.Layer:
    w = module.weight.detach().cpu().float().clone()
    b = None if module.bias is None else module.bias.detach().cpu().float().clone()
    if isinstance(module, nn.Linear):
        return S.Linear(w, b, None, neuron, **node)
    layer = spec_conv(module, w, b, None, neuron)
    layer.inputs, layer.name = node.get("inputs"), node.get("name")
    return layer


def build_graph_spec(graph: LayerGraph, choices: list, input_shape: tuple[int, ...],
                     timesteps: int, metadata: dict | None = None) -> S.NetworkSpec:
    """The graph spec: ``choices`` (``LayerChoice``, one per ``graph.hidden()`` node, in order)
    set each LIF population; see the module docstring for the layout."""
    hidden = graph.hidden()
    if len(choices) != len(hidden):
        raise ConfigError(f"{len(choices)} threshold choices for {len(hidden)} populations")
    neurons = {i: S.LIF(threshold=c.threshold, leak=1.0, reset="subtract", amplitude=c.amplitude,
                        v_init=c.v_init) for i, c in zip(hidden, choices, strict=True)}
    layers: list[S.Layer] = []
    last = len(graph.nodes) - 1
    for i, n in enumerate(graph.nodes):
        default = (i - 1,) if i > 0 else (S.INPUT,)
        inputs = None if n.inputs == default and n.kind != "add" else tuple(n.inputs)
        node = {"inputs": inputs, "name": n.name}
        if n.kind == "add":
            layers.append(S.Add(neuron=neurons.get(i), **node))
        elif n.kind == "weighted":
            neuron = S.Integrator(leak=1.0, v_init=0.0) if i == last else neurons.get(i)
            layers.append(_weighted(n.module, neuron, **node))
        else:
            layer = shape_layer(n.module, f"cannot convert layer {n.name!r}")
            layer.inputs, layer.name = inputs, n.name
            layers.append(layer)
    return S.NetworkSpec(tuple(int(d) for d in input_shape), layers, timesteps,
                         metadata=dict(metadata or {})).validate()


__all__ = ["GraphANN", "GraphNode", "LayerGraph", "build_graph_spec", "collect_graph_stats",
           "has_branches", "read_graph"]
