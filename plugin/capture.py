"""Read a model's computation, not its container: the chain of layers one time step runs.

Users write networks as ``nn.Sequential``, as a class whose ``forward`` loops over time with
explicit membrane state, or as a module their own loop calls once per step; they pool with
``F.max_pool2d`` and flatten with ``x.view(B, -1)``. All of these compute the same thing: a
chain of layers, each fed by the one before, with neurons whose only memory is their own state.

Why torch.fx: it reads ``forward`` symbolically, so functional calls and tensor methods appear
as graph nodes with their arguments, a Python loop over time unrolls into one block per step
(which shows where each neuron's state comes from), and data-dependent control flow is refused
by the tracer itself instead of being silently specialised to one input, as a recorded forward
would be. It is torch's own tool (nirtorch builds on it too) and needs no framework: which
modules are neurons is the caller's to say (the snnTorch adapter passes snnTorch's neurons).
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from leanspike.errors import ConfigError

# what to write instead of torch layers a network spec cannot describe (callers refuse them)
ADVICE = {
    nn.AdaptiveAvgPool2d: "use an AvgPool2d with a fixed kernel",
    nn.LSTM: "recurrent layers are not feed-forward",
    nn.GRU: "recurrent layers are not feed-forward",
    nn.RNN: "recurrent layers are not feed-forward",
}
# pooling arguments fx writes out at their defaults; any other value is refused
_POOL_DEFAULTS = {"ceil_mode": False, "dilation": 1, "return_indices": False,
                  "count_include_pad": True, "divisor_override": None}


@dataclass
class Step:
    """One layer of the per-step chain: ``module`` computes it (a functional call becomes the
    equivalent module); ``source`` says how the user wrote it, for messages."""

    name: str
    module: nn.Module
    neuron: bool = False
    source: str = ""
    # in a graph (``Capture.graph``): the steps this one reads, by position in the step list
    # (``INPUT`` = -1: the model's input); None in a chain, where each reads the one before
    inputs: tuple[int, ...] | None = None


INPUT = -1


class _Branching(ConfigError):
    """What the chain reader raises where the forward branches or sums branches."""


class Sum(nn.Module):
    """A step that sums its inputs element-wise (a residual connection's ``a + b``)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


@dataclass
class Capture:
    """What one time step computes, and how the model runs over time.

    ``timesteps``: the length of the model's own time loop, or None when the model is called
    once per step. ``per_step_input``: the loop reads ``x[t]`` (input [T, B, ...]) rather than
    the same ``x`` every step. ``reads``: what the model returns of its last neuron
    ("spikes", "membrane"; empty when it returns something else)."""

    steps: list[Step]
    timesteps: int | None = None
    per_step_input: bool = False
    reads: set[str] = field(default_factory=set)
    graph: bool = False  # steps name their ``inputs``: a residual or branching network


class _Tracer(fx.Tracer):
    def __init__(self, is_neuron: Callable[[nn.Module], bool], leaves: tuple[type, ...]):
        super().__init__()
        self.is_neuron = is_neuron
        self.leaves = leaves

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return self.is_neuron(m) or isinstance(m, self.leaves) or \
            super().is_leaf_module(m, qualname)


def trace(model: nn.Module, is_neuron: Callable[[nn.Module], bool],
          leaves: tuple[type, ...] = ()) -> fx.GraphModule:
    """``model`` as an fx graph, neurons (and ``leaves``) left whole; an error that says what
    to do when the forward cannot be read."""
    tracer = _Tracer(is_neuron, leaves)
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises TraceError, TypeError, AttributeError...
        hint = ("data-dependent control flow (an `if` or a loop on tensor values or shapes, "
                "e.g. range(x.size(0))) cannot be read: loop over a Python int such as "
                "num_steps, or let your own loop call the model once per step")
        raise ConfigError(f"cannot read {type(model).__name__}.forward ({type(exc).__name__}: "
                          f"{exc}); {hint}") from None
    return fx.GraphModule(tracer.root, graph)


def _pair(v) -> int | tuple[int, ...]:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _functional_module(node: fx.Node) -> tuple[nn.Module, str] | None:
    """The module a functional call or tensor method computes, if it is a layer."""
    args, kwargs = node.args[1:], dict(node.kwargs)
    t = node.target
    if node.op == "call_function":
        if t in (F.avg_pool2d, F.max_pool2d, F.avg_pool1d, F.max_pool1d):
            names = ("kernel_size", "stride", "padding")
            given = dict(zip(names, args)) | {k: v for k, v in kwargs.items() if k in names}
            extra = {k: v for k, v in kwargs.items()
                     if k not in names and _POOL_DEFAULTS.get(k, object()) != v}
            if extra or len(args) > 3:
                raise ConfigError(f"{node.name} ({t.__name__}): only kernel_size, stride and "
                                  f"padding are supported, got {extra or args[3:]}")
            cls = {F.avg_pool2d: nn.AvgPool2d, F.max_pool2d: nn.MaxPool2d,
                   F.avg_pool1d: nn.AvgPool1d, F.max_pool1d: nn.MaxPool1d}[t]
            return cls(**{k: _pair(v) for k, v in given.items()}), f"F.{t.__name__}"
        if t in (torch.flatten,):
            start = args[0] if args else kwargs.get("start_dim", 0)
            end = args[1] if len(args) > 1 else kwargs.get("end_dim", -1)
            return nn.Flatten(start, end), "torch.flatten"
        if t in (F.relu, torch.relu):
            return nn.ReLU(), f"{getattr(t, '__name__', 'relu')}"
        if t is F.dropout:
            return nn.Identity(), "F.dropout"
        return None
    if node.op == "call_method":
        if t == "flatten":
            start = args[0] if args else kwargs.get("start_dim", 0)
            end = args[1] if len(args) > 1 else kwargs.get("end_dim", -1)
            return nn.Flatten(start, end), "x.flatten"
        if t in ("view", "reshape"):
            shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            batch_first = len(shape) == 2 and shape[1] == -1 and (
                isinstance(shape[0], int) or _is_batch_size(shape[0]))
            if not batch_first:
                raise ConfigError(f"{node.name} (x.{t}{tuple(shape)}): only x.{t}(B, -1) "
                                  f"(flatten all but the batch) can be read; use "
                                  f"x.flatten(1) or nn.Flatten()")
            return nn.Flatten(), f"x.{t}(B, -1)"
        if t == "relu":
            return nn.ReLU(), "x.relu"
    return None


def _is_batch_size(arg) -> bool:
    """x.size(0) or x.shape[0] of any tensor: the batch size, whatever the shape is."""
    if not isinstance(arg, fx.Node):
        return False
    if arg.op == "call_method" and arg.target == "size":
        return tuple(arg.args[1:]) == (0,) or arg.kwargs.get("dim") == 0
    if arg.op == "call_function" and arg.target is operator.getitem:
        src, index = arg.args
        return index == 0 and isinstance(src, fx.Node) and (
            (src.op == "call_function" and src.target is getattr and src.args[1] == "shape")
            or (src.op == "call_method" and src.target == "size" and len(src.args) == 1))
    return False


_SHAPE_HELPERS = ("size", "dim")


def _is_shape_query(node: fx.Node) -> bool:
    return (node.op == "call_method" and node.target in _SHAPE_HELPERS) or (
        node.op == "call_function" and node.target is getattr and node.args[1] == "shape") or (
        node.op == "call_function" and node.target is operator.getitem
        and isinstance(node.args[0], fx.Node) and _is_shape_query(node.args[0]))


def _state_inputs(node: fx.Node, m: nn.Module) -> list[tuple[int, object]]:
    """A neuron call's state inputs by position: (input, mem) for a Leaky, (input, syn, mem) for
    a Synaptic; each must be the output of the same index of the neuron's previous step (a
    neuron returns (spikes, *state) in the order it takes the state)."""
    names = list(inspect.signature(m.forward).parameters)
    out = list(enumerate(node.args))[1:]
    out += [(names.index(k) if k in names else -1, v) for k, v in node.kwargs.items()]
    return out


def capture(model: nn.Module, is_neuron: Callable[[nn.Module], bool] = lambda m: False,
            neuron_state: Callable[[nn.Module], bool] = lambda m: True, *,
            leaves: tuple[type, ...] = (), neurons_required: bool = True,
            graphs: bool = False) -> Capture:
    """The per-step chain of ``model``; with ``graphs=True`` a model whose forward branches and
    sums branches is read as a graph (``capture_graph``) instead of refused. ``is_neuron(m)``
    says which modules are neurons; ``neuron_state(m)`` whether a neuron returns
    ``(spikes, state)`` rather than spikes alone (snnTorch: always with init_hidden=False,
    with init_hidden=True only for output=True).
    ``leaves``: more module types read as layers, whole (an ANN's own activations); an ANN
    has no neurons (``neurons_required=False``) and one step."""
    try:
        return _capture_chain(model, is_neuron, neuron_state, leaves, neurons_required)
    except _Branching:
        if not graphs:
            raise
    return capture_graph(model, is_neuron, neuron_state, leaves=leaves)


def _capture_chain(model, is_neuron, neuron_state, leaves, neurons_required) -> Capture:
    gm = trace(model, is_neuron, leaves)
    modules = dict(gm.named_modules())
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if not placeholders:
        raise ConfigError(f"{type(model).__name__}.forward takes no input")
    x = placeholders[0]

    # symbolic values: what each node holds
    INPUT, DATA, STATE, CONST = "input", "data", "state", "const"
    kind: dict[fx.Node, tuple] = {x: (INPUT, None)}
    calls: list[tuple[object, fx.Node]] = []  # (target, node) of every layer call, in order
    steps: list[Step] = []
    head: fx.Node | None = None  # the chain's current output
    last_state: dict[str, dict[int, fx.Node]] = {}  # neuron -> its latest state outputs by index
    last_call: dict[str, fx.Node] = {}  # neuron -> the call those outputs came from
    neuron_calls: dict[str, int] = {}
    per_step_input = None
    reads_input: list[int] = []  # positions in ``calls`` of the layers that read the input

    def where(node: fx.Node) -> str:
        return f"layer {node.target!r}" if node.op == "call_module" else node.name

    def inside(node: fx.Node) -> str:
        """ " in 'block' (Type)": the innermost user module (not a container) holding it."""
        stack = [(path, cls) for path, cls in node.meta.get("nn_module_stack", {}).values()
                 if cls is not nn.Sequential and path != node.target]
        return f" in {stack[-1][0]!r} ({stack[-1][1].__name__})" if stack else ""

    def describe(node: fx.Node) -> str:
        """A node as the user wrote it: a module's name, or which output of a neuron."""
        if node.op == "call_module":
            return repr(node.target)
        if node.op == "call_function" and node.target is operator.getitem and \
                isinstance(node.args[0], fx.Node) and node.args[0].op == "call_module":
            return f"output {node.args[1]} of {node.args[0].target!r}"
        return node.name

    def data_input(node: fx.Node, value) -> None:
        """``value`` feeds ``node``'s data path: it must be the chain's head, or the input
        at the start of a time step."""
        nonlocal head, per_step_input
        k = kind.get(value, (CONST,))[0] if isinstance(value, fx.Node) else CONST
        if k == INPUT:
            reads_input.append(len(calls))
            is_indexed = kind[value][1] is not None
            if per_step_input is None:
                per_step_input = is_indexed
            elif per_step_input != is_indexed:
                raise ConfigError(f"{where(node)}: the input is read both as x and as x[t]")
            head = None
            return
        if k == "neuron":
            raise ConfigError(f"{where(node)}: receives all of {kind[value][1]!r}'s outputs "
                              f"(spikes and state) as one value; take the spikes (spk, mem = "
                              f"lif(cur, mem)), or in an nn.Sequential give the neuron "
                              f"init_hidden=True")
        if k != DATA or value is not head:
            src = describe(value) if isinstance(value, fx.Node) else repr(value)
            raise _Branching(f"{where(node)}{inside(node)}: reads {src}, not the layer before "
                              f"it; only a "
                              f"chain of layers (each fed by the previous one, the first by the "
                              f"input) can be read. Residual or branching networks are not "
                              f"supported yet")

    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr"):
            kind.setdefault(node, (CONST,))
            continue
        if node.op == "output":
            continue
        if _is_shape_query(node):
            kind[node] = (CONST,)
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            src, index = node.args
            k = kind.get(src, (CONST,))
            if k[0] == INPUT and k[1] is None and isinstance(index, int):
                kind[node] = (INPUT, index)  # x[t]
            elif k[0] == "neuron":
                name = k[1]
                if index == 0:
                    kind[node] = (DATA, name)
                    head = node if head is src else head
                else:
                    kind[node] = (STATE, name)
                    if src is not last_call.get(name):  # a new step's outputs
                        last_call[name] = src
                        last_state[name] = {}
                    last_state[name][index] = node
            else:
                kind[node] = (CONST,)
            continue
        if node.op == "call_module" and is_neuron(modules[node.target]):
            name, m = node.target, modules[node.target]
            data_input(node, node.args[0])
            for position, state in _state_inputs(node, m):
                if not isinstance(state, fx.Node):
                    continue
                previous = last_state.get(name, {}).get(position)
                if kind.get(state, (CONST,))[0] == STATE and state is not previous:
                    if kind[state][1] != name:
                        raise ConfigError(f"{name}: its state comes from {kind[state][1]!r}, "
                                          f"not from its own previous step; only a neuron's "
                                          f"own recurrence can be read (snn.RLeaky-style "
                                          f"feedback is not supported)")
                    raise ConfigError(f"{name}: its state input {position} is "
                                      f"{describe(state)}, not output {position} of its "
                                      f"previous step; pass the state back in the order the "
                                      f"neuron returns it (spk, syn, mem = lif(cur, syn, mem))")
                if kind.get(state, (CONST,))[0] == DATA:
                    raise ConfigError(f"{name}: its state input is a layer's output; only a "
                                      f"neuron's own recurrence can be read")
            neuron_calls[name] = neuron_calls.get(name, 0) + 1
            kind[node] = ("neuron", name) if neuron_state(m) else (DATA, name)
            head = node
            calls.append((name, node))
            if neuron_calls[name] == 1:
                steps.append(Step(name, m, neuron=True, source=type(m).__name__))
            continue
        if node.op == "call_module":
            layer = modules[node.target]  # whether the spec describes it is the caller's call
            source = type(layer).__name__
        else:
            found = _functional_module(node) if node.args and isinstance(
                node.args[0], fx.Node) and kind.get(node.args[0], (CONST,))[0] in (
                INPUT, DATA, "neuron") else None
            if found is None:
                if node.op == "call_function" and node.target in (torch.stack, torch.cat) or (
                        node.op == "call_method" and node.target == "append"):
                    kind[node] = (CONST,)  # recording outputs over time
                    continue
                data_args = [a for a in node.all_input_nodes
                             if kind.get(a, (CONST,))[0] in (INPUT, DATA, STATE, "neuron")]
                if not data_args:
                    kind[node] = (CONST,)
                    continue
                op = getattr(node.target, "__name__", node.target)
                if len(data_args) > 1:
                    raise _Branching(f"{node.name}{inside(node)}: {op} joins two branches (a "
                                      f"residual or branching connection); the network spec "
                                      f"is a chain of layers, residual networks are not "
                                      f"supported yet")
                # a sum with a constant: the graph reader says why it cannot be held
                error = _Branching if _is_add(node) else ConfigError
                raise error(f"cannot read operation {node.name} ({node.op} {op}): not a "
                            f"layer the network spec describes; write it as a module "
                            f"(nn.Conv2d, nn.AvgPool2d, nn.Flatten, ...) or a supported "
                            f"call (F.avg_pool2d, F.max_pool2d, torch.flatten, "
                            f"x.view(B, -1), F.relu)")
            layer, source = found
        data_input(node, node.args[0])
        kind[node] = (DATA, node.name)
        head = node
        target = node.target if node.op == "call_module" else (node.op, node.target)
        calls.append((target, node))
        steps.append(Step(node.target if node.op == "call_module" else node.name, layer,
                          source=source))

    if not neuron_calls:
        if neurons_required:
            raise ConfigError(f"{type(model).__name__} has no neuron")
        return Capture(steps, None, bool(per_step_input), set())
    repeats, per_block = _time_steps(neuron_calls, len(calls))
    blocks = [[t for t, _ in calls[i * per_block:(i + 1) * per_block]] for i in range(repeats)]
    if any(b != blocks[0] for b in blocks):
        raise ConfigError("the time steps of the forward do not all run the same layers")
    starts = list(range(0, len(calls), per_block))
    if reads_input != starts:
        odd = calls[next(i for i in reads_input if i not in starts)][1]
        raise ConfigError(f"{where(odd)}: reads the input in the middle of a step; only a chain "
                          f"of layers (the first fed by the input) can be read")
    steps = steps[:per_block]
    last = next(s for s in reversed(steps) if s.neuron)
    reads = _reads(gm, last.name, neuron_state(last.module))
    return Capture(steps, repeats if repeats > 1 else None, bool(per_step_input), reads)


def _reads(gm: fx.GraphModule, last: str, returns_state: bool) -> set[str]:
    """Which outputs of the last neuron reach the model's output."""
    out = next(n for n in gm.graph.nodes if n.op == "output")
    reads, seen, todo = set(), set(), list(out.all_input_nodes)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.op == "call_module" and n.target == last:
            reads.update(("spikes", "membrane") if returns_state else ("spikes",))
            continue
        if n.op == "call_function" and n.target is operator.getitem and \
                isinstance(n.args[0], fx.Node) and n.args[0].op == "call_module" and \
                n.args[0].target == last:
            reads.add("spikes" if n.args[1] == 0 else "membrane")
            continue
        if n.op == "call_function" and n.target in (torch.stack, torch.cat, operator.getitem):
            todo.extend(n.all_input_nodes)
    return reads


_ADDS = (operator.add, operator.iadd, torch.add)
_MULS = (operator.mul, operator.imul, torch.mul, operator.truediv, torch.div, operator.sub,
         torch.sub, operator.matmul)


def _time_steps(neuron_calls: dict, num_calls: int) -> tuple[int, int]:
    """(time steps, layer calls per step) of a traced forward: every neuron called once per
    step, every step the same number of calls."""
    loops = set(neuron_calls.values())
    if len(loops) != 1:
        raise ConfigError(f"the neurons are called different numbers of times per forward "
                          f"({neuron_calls}); every step must run every layer once")
    repeats = loops.pop()
    per_block = num_calls // repeats
    if per_block * repeats != num_calls:
        raise ConfigError("the time steps of the forward do not all run the same layers")
    return repeats, per_block


def _is_add(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target in _ADDS) or (
        node.op == "call_method" and node.target in ("add", "add_"))


def _is_other_arithmetic(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target in _MULS) or (
        node.op == "call_method" and node.target in ("mul", "mul_", "div", "sub", "matmul"))


def capture_graph(model: nn.Module, is_neuron: Callable[[nn.Module], bool],
                  neuron_state: Callable[[nn.Module], bool] = lambda m: True, *,
                  leaves: tuple[type, ...] = ()) -> Capture:
    """The per-step graph of ``model``: as ``capture``, but a step may read any earlier step of
    the same time step (or the input) and sums (``a + b``, ``torch.add``; ``a + b + c`` is one
    sum) are steps of their own (``Sum``), each naming its ``inputs``. What each step means
    (a current, spikes) is the caller's to judge; a product or difference of branches, a sum
    with a constant and a read of an earlier time step's output are refused here."""
    gm = trace(model, is_neuron, leaves)
    modules = dict(gm.named_modules())
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if not placeholders:
        raise ConfigError(f"{type(model).__name__}.forward takes no input")
    # what each fx node holds: ("input", t) the input (t: the index of x[t], or None),
    # ("out", k) the output of call k, ("neuron", k) a neuron call's (spikes, state) tuple,
    # ("state", name), ("partial", operands) a sum that a later sum continues, ("const",)
    value: dict[fx.Node, tuple] = {placeholders[0]: ("input", None)}
    calls: list[dict] = []  # target, node, inputs (call indices or INPUT), step
    neuron_calls: dict[str, int] = {}
    last_call: dict[str, fx.Node] = {}
    per_step_input = None

    def inside(node: fx.Node) -> str:
        stack = [(path, cls) for path, cls in node.meta.get("nn_module_stack", {}).values()
                 if cls is not nn.Sequential and path != node.target]
        return f" in {stack[-1][0]!r} ({stack[-1][1].__name__})" if stack else ""

    def where(node: fx.Node) -> str:
        return f"layer {node.target!r}" if node.op == "call_module" else node.name

    def source(arg) -> int:
        """The call (or INPUT) whose output ``arg`` is; refuses what is not a layer's output."""
        nonlocal per_step_input
        k = value.get(arg, ("const",)) if isinstance(arg, fx.Node) else ("const",)
        if k[0] == "input":
            indexed = k[1] is not None
            if per_step_input is None:
                per_step_input = indexed
            elif per_step_input != indexed:
                raise ConfigError(f"{arg.name}: the input is read both as x and as x[t]")
            return INPUT
        if k[0] == "out":
            return k[1]
        if k[0] == "neuron":
            name = calls[k[1]]["target"]
            raise ConfigError(f"receives all of {name!r}'s outputs (spikes and state) as one "
                              f"value; take the spikes (spk, mem = lif(cur, mem))")
        if k[0] == "state":
            raise ConfigError(f"reads the state (membrane) of {k[1]!r} as data; only a "
                              f"neuron's spikes pass on to later layers")
        raise ConfigError(f"{getattr(arg, 'name', repr(arg))}: not the output of a layer")

    def add_call(target, node: fx.Node, inputs: list[int], step: Step) -> None:
        calls.append({"target": target, "node": node, "inputs": inputs, "step": step})
        value[node] = ("out", len(calls) - 1)

    def operands(node: fx.Node) -> list:
        out = []
        for a in node.args:
            v = value.get(a) if isinstance(a, fx.Node) else None
            out += v[1] if v is not None and v[0] == "partial" else [a]
        return out

    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr"):
            value.setdefault(node, ("const",))
            continue
        if node.op == "output":
            continue
        if _is_shape_query(node):
            value[node] = ("const",)
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            src, index = node.args
            k = value.get(src, ("const",))
            if k[0] == "input" and k[1] is None and isinstance(index, int):
                value[node] = ("input", index)
            elif k[0] == "neuron":
                name = calls[k[1]]["target"]
                value[node] = ("out", k[1]) if index == 0 else ("state", name)
            else:
                value[node] = ("const",)
            continue
        data = [a for a in node.all_input_nodes if value.get(a, ("const",))[0] != "const"]
        if node.op == "call_module" and is_neuron(modules[node.target]):
            name, m = node.target, modules[node.target]
            try:
                inputs = [source(node.args[0])]
            except ConfigError as exc:
                raise ConfigError(f"{where(node)}{inside(node)}: {exc}") from None
            for _, state in _state_inputs(node, m):
                if not isinstance(state, fx.Node):
                    continue
                k = value.get(state, ("const",))
                if k[0] == "state" and k[1] != name:
                    raise ConfigError(f"{name}: its state comes from {k[1]!r}, not from its own "
                                      f"previous step; only a neuron's own recurrence can be "
                                      f"read (snn.RLeaky-style feedback is not supported)")
                if k[0] in ("out", "input", "partial"):
                    raise ConfigError(f"{name}: its state input is a layer's output; only a "
                                      f"neuron's own recurrence can be read")
            neuron_calls[name] = neuron_calls.get(name, 0) + 1
            last_call[name] = node
            add_call(name, node, inputs, Step(name, m, neuron=True, source=type(m).__name__))
            if neuron_state(m):
                value[node] = ("neuron", len(calls) - 1)
            continue
        if _is_add(node) and data:
            if node.kwargs or len(node.args) != 2 or not all(
                    isinstance(a, fx.Node) and a in data for a in node.args):
                terms = " + ".join(a.name if isinstance(a, fx.Node) else repr(a)
                                   for a in node.args)
                raise ConfigError(f"{node.name}{inside(node)} ({terms}{', ' if node.kwargs else ''}"
                                  f"{', '.join(f'{k}={v!r}' for k, v in node.kwargs.items())}): "
                                  f"a sum the network spec cannot hold; only the sum of layers' "
                                  f"outputs (a + b, without constants or alpha) can be read")
            terms = operands(node)
            if len(node.users) == 1 and _is_add(next(iter(node.users))):
                value[node] = ("partial", terms)  # a + b + c: one sum
                continue
            try:
                inputs = [source(a) for a in terms]
            except ConfigError as exc:
                raise ConfigError(f"{node.name}{inside(node)}: {exc}") from None
            if len(set(inputs)) != len(inputs):
                raise ConfigError(f"{node.name}{inside(node)}: adds a layer's output to itself "
                                  f"(2 * x), which the network spec cannot hold")
            add_call(("sum", node.target), node, inputs, Step(node.name, Sum(), source="a + b"))
            continue
        if node.op == "call_module":
            layer, source_text = modules[node.target], type(modules[node.target]).__name__
        else:
            found = _functional_module(node) if node.args and isinstance(
                node.args[0], fx.Node) and node.args[0] in data else None
            if found is None:
                if node.op == "call_function" and node.target in (torch.stack, torch.cat) or (
                        node.op == "call_method" and node.target == "append"):
                    value[node] = ("const",)  # recording outputs over time
                    continue
                if not data:
                    value[node] = ("const",)
                    continue
                op = getattr(node.target, "__name__", node.target)
                if _is_other_arithmetic(node):
                    raise ConfigError(f"{node.name}{inside(node)} ({op}): multiplying, dividing "
                                      f"or subtracting layer outputs cannot be read; the "
                                      f"network spec only sums branches (a + b)")
                raise ConfigError(f"cannot read operation {node.name} ({node.op} {op}): not a "
                                  f"layer the network spec describes")
            layer, source_text = found
        try:
            inputs = [source(node.args[0])]
        except ConfigError as exc:
            raise ConfigError(f"{where(node)}{inside(node)}: {exc}") from None
        target = node.target if node.op == "call_module" else (node.op, node.target)
        add_call(target, node, inputs, Step(
            node.target if node.op == "call_module" else node.name, layer, source=source_text))

    if not neuron_calls:
        raise ConfigError(f"{type(model).__name__} has no neuron")
    repeats, per_block = _time_steps(neuron_calls, len(calls))
    blocks = []
    for b in range(repeats):
        start, block = b * per_block, []
        for call in calls[start:start + per_block]:
            local = []
            for j in call["inputs"]:
                if j != INPUT and j < start:
                    raise ConfigError(f"{where(call['node'])}{inside(call['node'])}: reads "
                                      f"{calls[j]['node'].name} of an earlier time step; only "
                                      f"each step's own outputs can be read (feed-forward)")
                local.append(INPUT if j == INPUT else j - start)
            block.append((call["target"], tuple(local)))
        blocks.append(block)
    if any(b != blocks[0] for b in blocks):
        raise ConfigError("the time steps of the forward do not all run the same layers")
    steps = []
    for call, (_, local) in zip(calls[:per_block], blocks[0]):
        call["step"].inputs = local
        steps.append(call["step"])
    last = next(s for s in reversed(steps) if s.neuron)
    reads = _reads(gm, last.name, neuron_state(last.module))
    _name_sums(steps, [c["node"] for c in calls[:per_block]])
    return Capture(steps, repeats if repeats > 1 else None, bool(per_step_input), reads,
                   graph=True)


def _name_sums(steps: list[Step], nodes: list[fx.Node]) -> None:
    """A sum's name: ``add`` in the module that computes it (``block1.add``), or, when a neuron
    integrates it, in that neuron's module; unique among the steps."""
    taken = {s.name for s in steps if not isinstance(s.module, Sum)}
    users: dict[int, list[int]] = {}
    for k, s in enumerate(steps):
        for j in s.inputs or ():
            users.setdefault(j, []).append(k)
    for k, (s, node) in enumerate(zip(steps, nodes)):
        if not isinstance(s.module, Sum):
            continue
        after = users.get(k, [])
        if len(after) == 1 and steps[after[0]].neuron:
            path = steps[after[0]].name
            prefix = path.rsplit(".", 1)[0] + "." if "." in path else ""
        else:
            stack = [p for p, cls in node.meta.get("nn_module_stack", {}).values()
                     if cls is not nn.Sequential]
            prefix = f"{stack[-1]}." if stack else ""
        name, n = f"{prefix}add", 1
        while name in taken:
            name, n = f"{prefix}add{n}", n + 1
        s.name = name
        taken.add(name)
