"""Take in a model written the usual snnTorch way, as it is.

The model's per-step computation is read with torch.fx (``leanspike.capture``), so what counts
is what ``forward`` computes, not the container: an ``nn.Sequential`` (nested, neurons with
``init_hidden=True`` or not), a class whose ``forward`` loops over time with explicit membrane
state (``mem = lif.init_leaky()``), or a module the user's loop calls once per step; functional
calls (``F.avg_pool2d``, ``F.max_pool2d``, ``torch.flatten``, ``x.view(B, -1)``) count as layers.

The result is a ``SpikingNetwork`` with the same weights, thresholds, leaks (snn.Synaptic's
current decay ``alpha`` too), reset modes and spike amplitudes, under the network spec's
semantics; its last neuron becomes the integrating output layer whose membrane potential is
read as the logits. What changes, and how exactly:

- neurons reset on the step they fire (snnTorch's default ``reset_delay=True`` resets one step
  later): a warning says so; the retraining that usually follows absorbs it;
- batch norm after a Conv/Linear is kept while training and folded exactly (eval statistics)
  when the spec is written (``to_spec``);
- average pooling of currents (``Conv -> AvgPool -> Leaky``) is folded into the convolution,
  exactly: a convolution followed by average pooling is one convolution with a larger kernel;
- max pooling of currents (``Conv -> MaxPool -> Leaky``) becomes max pooling of spikes
  (``Conv -> Leaky -> MaxPool``): exact at T=1 from a zero membrane, an approximation for T > 1
  (a warning says so once);
- ``snn.Lapicque`` (u = (1 - dt/RC) u + (dt/C) I) becomes a Leaky neuron with leak 1 - dt/RC
  whose input gain dt/C goes into the weighted layer before it (or its batch norm's affine
  part): exact up to float rounding; its reset, always one step late, is warned about as
  Leaky's ``reset_delay`` is;
- Dropout and Identity are dropped (the identity at inference).
- a forward that sums branches becomes a graph spec (format 7), its nodes named by module path:
  a sum a neuron integrates (``cur = conv2(spk1) + shortcut(spk0)``, or ``+ spk0``) is an
  ``Add`` carrying that neuron, whose inputs are the weighted layers without neurons (their
  currents, batch norm folded) and the identity shortcut's spikes; a sum of spike trains that the
  next layer receives (SEW ResNet's ``spk2 + spk0``) is an ``Add`` without a neuron. A current or
  the analog input added to spikes without a neuron to integrate the sum, max pooling of currents
  inside a sum (or of a sum of spikes) and products of branches are refused by name.

Neuron options that change what a neuron computes beyond the spec (``inhibition``,
``state_quant``) are refused by name.

The user's model object is never modified.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings

import snntorch as snn
import torch
from torch import nn

from leanspike.adapters.snntorch.network import BATCH_NORMS, SpecAdd, SpikingNetwork, to_spec
from leanspike.adapters.snntorch.neurons import (
    CURRENT_BASED,
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
)
from leanspike.capture import ADVICE, INPUT, Capture, Sum, capture
from leanspike.convert.chain import (
    AVG_POOL_MODULES,
    MAX_POOL_MODULES,
    POOL_MODULES,
    WEIGHTED_MODULES,
    as_ints,
    spatial_dims,
)
from leanspike.errors import ConfigError, SpecError

WEIGHTED = WEIGHTED_MODULES
_SKIP = (nn.Dropout, nn.Identity)
# snnTorch neurons leanspike does not describe yet, and what to use instead
_REFUSED = {
    "Alpha": "only snn.Leaky, snn.Synaptic and snn.Lapicque neurons are supported (snn.Alpha's "
             "two opposing currents are not a spec neuron); use snn.Synaptic",
    "RLeaky": "recurrent neurons are not feed-forward; use snn.Leaky",
    "RSynaptic": "recurrent neurons are not feed-forward; use snn.Synaptic",
}
ADOPTED = (snn.Leaky, snn.Synaptic, snn.Lapicque)  # SpecLeaky and its kin are snn.Leaky


def _current_based(m: nn.Module) -> bool:
    """A neuron with a synaptic current state (snnTorch's Synaptic, or ours)."""
    return isinstance(m, (snn.Synaptic, *CURRENT_BASED))


def is_neuron(module: nn.Module) -> bool:
    return isinstance(module, snn.SpikingNeuron)


def returns_state(module: nn.Module) -> bool:
    """snnTorch neurons return (spikes, membrane) unless they hold their own state
    (init_hidden=True) and are not an output layer."""
    return not getattr(module, "init_hidden", False) or getattr(module, "output", False)


def read_model(model: nn.Module) -> Capture:
    """The per-step chain of an snnTorch model, or its graph when it sums branches (see
    ``leanspike.capture``)."""
    return capture(model, is_neuron, returns_state, graphs=True)


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy, whatever state the model was left in. After a training step snnTorch
    neurons hold their last membrane in a buffer (and torch pruning its masked weight) with a
    graph behind them, which ``copy.deepcopy`` refuses: the copy gets them detached, and the
    user's model is not touched."""
    memo = {id(value): value.detach().clone()
            for m in model.modules() for value in [*vars(m).values(), *m._buffers.values()]
            if isinstance(value, torch.Tensor) and not value.is_leaf}
    return copy.deepcopy(model, memo)


def _scalar_alpha(name: str, neuron: nn.Module) -> float:
    alpha = neuron.alpha.detach().clamp(0, 1)
    if alpha.numel() != 1:
        raise ConfigError(f"layer {name!r}: per-neuron current decays (alpha of shape "
                          f"{tuple(alpha.shape)}) are not supported; use one alpha per layer")
    return float(alpha)


def _beta(neuron: nn.Module) -> float | torch.Tensor:
    """One leak per layer, or one per neuron or channel as the user shaped it (the spec
    broadcasts it to the layer, as it does thresholds). snn.Lapicque's is 1 - dt/RC, which its
    dynamics use (its ``beta`` only chose R and C)."""
    if isinstance(neuron, snn.Lapicque):
        beta = 1.0 - neuron.time_step.double() / (neuron.R.double() * neuron.C.double())
    else:
        beta = neuron.beta.detach().clamp(0, 1)
    return float(beta) if beta.numel() == 1 else beta.clone()


def _lapicque_gain(name: str, neuron: nn.Module) -> float:
    """snn.Lapicque's input gain dt/C, checked to give a leak the spec can hold."""
    dt, r, c = (getattr(neuron, k).detach().double() for k in ("time_step", "R", "C"))
    if dt.numel() != 1 or r.numel() != 1 or c.numel() != 1:
        raise ConfigError(f"layer {name!r} (Lapicque): per-neuron R or C are not supported; use "
                          f"one R and C per layer")
    if not 0 < float(dt / (r * c)) <= 1:
        raise ConfigError(f"layer {name!r} (Lapicque): time_step/(R*C) = {float(dt / (r * c))} "
                          f"gives a leak 1 - dt/RC outside [0, 1)")
    return float(dt / c)


def _scale_input(layers: list[nn.Module], gain: float, name: str) -> None:
    """Multiply the current the next neuron receives by ``gain``: the weighted layer's weight
    and bias, or the affine part of the batch norm after it (which would undo a scaled
    weight)."""
    target = layers[-1]
    if isinstance(target, BATCH_NORMS) and not target.affine:
        raise ConfigError(f"layer {name!r} (Lapicque): its input gain cannot go into a batch "
                          f"norm without affine parameters; use affine=True")
    with torch.no_grad():
        for p in (target.weight, target.bias):
            if p is not None:
                p.mul_(gain)


def _learns(m: nn.Module, which: str) -> bool:
    value = getattr(m, which)
    return isinstance(value, nn.Parameter) and value.requires_grad


def fold_avg_pool(conv: nn.Conv1d | nn.Conv2d, pool: nn.AvgPool1d | nn.AvgPool2d,
                  where: str) -> nn.Conv1d | nn.Conv2d:
    """``pool(conv(x))`` as one convolution, exactly (1-D or 2-D): per dimension kernel
    k + s(p-1), stride s*q, the same padding, each tap the mean of the conv taps that reach it."""
    n = spatial_dims(conv)
    if any(as_ints(pool.padding, n)) or pool.ceil_mode or not pool.count_include_pad:
        raise ConfigError(f"{where}: only unpadded, floor-mode average pooling of currents can "
                          f"be folded into the convolution")
    if conv.groups != 1 or any(d != 1 for d in conv.dilation) or isinstance(conv.padding, str):
        raise ConfigError(f"{where}: only groups=1, dilation=1 convolutions can absorb pooling")
    p, q = as_ints(pool.kernel_size, n), as_ints(pool.stride or pool.kernel_size, n)
    s, k = tuple(conv.stride), tuple(conv.kernel_size)
    w = conv.weight.detach()
    folded = torch.zeros(*w.shape[:2], *(k[d] + s[d] * (p[d] - 1) for d in range(n)),
                         dtype=w.dtype)
    for offset in itertools.product(*(range(p[d]) for d in range(n))):
        taps = tuple(slice(s[d] * offset[d], s[d] * offset[d] + k[d]) for d in range(n))
        folded[(slice(None), slice(None), *taps)] += w
    folded /= math.prod(p)
    out = type(conv)(conv.in_channels, conv.out_channels, tuple(folded.shape[2:]),
                     stride=tuple(s[d] * q[d] for d in range(n)), padding=conv.padding,
                     bias=conv.bias is not None, dtype=w.dtype)
    with torch.no_grad():
        out.weight.copy_(folded)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def _refusal(name: str, m: nn.Module) -> ConfigError | None:
    """Why neuron ``m`` cannot be adopted, or None when it can."""
    kind = type(m).__name__
    if isinstance(m, ADOPTED):
        if getattr(m, "inhibition", False):
            return ConfigError(f"cannot adopt layer {name!r} ({kind}): inhibition=True (only the "
                               f"strongest neuron fires) couples the neurons of a layer, which "
                               f"no spec neuron does; train without it")
        if getattr(m, "state_quant", False):
            return ConfigError(f"cannot adopt layer {name!r} ({kind}): state_quant quantises the "
                               f"membrane its own way; train in float and let leanspike's Loihi "
                               f"fixed point (quantize / snap_to_fixed_point) do it")
        return None
    why = _REFUSED.get(kind, "only snn.Leaky, snn.Synaptic and snn.Lapicque neurons are "
                             "supported")
    return ConfigError(f"cannot adopt layer {name!r} ({kind}): {why}")


def _neuron(name: str, m: nn.Module, output: bool, surrogate: str | None) -> nn.Module:
    refused = _refusal(name, m)
    if refused is not None:
        raise refused
    if isinstance(m, (SpecLeaky, SpecIntegrator)) and not output:
        return m
    beta = _beta(m)
    learn_beta = _learns(m, "beta") and not isinstance(m, snn.Lapicque)
    # a current state (snn.Synaptic's alpha) is the spec's current_leak
    current = {"alpha": _scalar_alpha(name, m), "learn_alpha": _learns(m, "alpha")} \
        if _current_based(m) else {}
    if output:
        return (SpecSynapticIntegrator if current else SpecIntegrator)(
            beta=beta, learn_beta=learn_beta, **current)
    return (SpecSynaptic if current else SpecLeaky)(
        beta=beta, threshold=m.threshold.detach(), reset_mechanism=m.reset_mechanism,
        amplitude=float(m.graded_spikes_factor), surrogate=surrogate,
        spike_grad=None if surrogate else m.spike_grad, learn_beta=learn_beta,
        learn_threshold=_learns(m, "threshold"), **current)


READOUTS = ("membrane", "spikes")


def _not_adoptable(name: str, m: nn.Module) -> ConfigError:
    why = ADVICE.get(type(m), "not a layer the network spec describes (Conv2d, Linear, "
                              "pooling, Flatten, batch norm, Dropout, snn.Leaky, snn.Synaptic)")
    return ConfigError(f"cannot adopt layer {name!r} ({type(m).__name__}): {why}")


def _warn_approximations(delayed: list, moved: list, steps: int, stacklevel: int) -> None:
    """What adoption changes on purpose: snnTorch's delayed reset, max pooling of currents."""
    if delayed:
        warnings.warn(f"neurons {delayed} use snnTorch's reset_delay=True (reset one step after "
                      f"the spike); the adopted network resets on the step it fires, as the "
                      f"network spec and Lava do", RuntimeWarning, stacklevel=stacklevel)
    if moved and steps > 1:
        warnings.warn(f"max pooling {moved} of currents becomes max pooling of spikes (after the "
                      f"neuron): exact at T=1 from a zero membrane, an approximation at T={steps} "
                      f"that retraining absorbs", RuntimeWarning, stacklevel=stacklevel)


def adopt(model: nn.Module, input_shape: tuple[int, ...], timesteps: int | None = None,
          *, surrogate: str | None = "triangular", readout: str = "membrane") -> SpikingNetwork:
    """A SpikingNetwork running ``model``'s layers and neurons under the spec's semantics, at
    ``timesteps`` (default: the length of the model's own time loop).

    ``readout``: "membrane" (default) makes the last neuron the integrating output layer, read
    by its membrane potential; "spikes" keeps it a spiking layer read by its spike count, as a
    model trained with snnTorch's spike-count losses (``ce_rate_loss``, ...) is read."""
    if readout not in READOUTS:
        raise ConfigError(f"readout must be one of {READOUTS}, got {readout!r}")
    if isinstance(model, SpikingNetwork):
        if timesteps is not None:
            model.timesteps = int(timesteps)
        return model
    for name, m in model.named_modules():  # say which neuron before reading the forward
        refused = _refusal(name, m) if is_neuron(m) else None
        if refused is not None:
            raise refused
    model = copy_model(model)  # the user's model stays as it was
    captured = read_model(model)
    steps = timesteps if timesteps is not None else captured.timesteps
    if steps is None:
        raise ConfigError(f"{type(model).__name__} runs one time step per call: give the number "
                          f"of time steps (timesteps=T)")
    if captured.graph:
        return _adopt_graph(model, captured, tuple(input_shape), steps, readout, surrogate)
    items = [(s.name, s.module) for s in captured.steps if not isinstance(s.module, _SKIP)]
    neurons = [k for k, (_, m) in enumerate(items) if is_neuron(m)]
    if neurons[-1] != len(items) - 1:
        raise ConfigError(f"layer {items[-1][0]!r}: the model must end with its output neuron")
    layers: list[nn.Module] = []
    between: list[tuple[str, nn.Module]] = []  # pooling between a weighted layer and its neuron
    after_neuron: list[nn.Module] = []
    delayed, moved = [], []
    weighted_open = False  # a weighted layer waits for its neuron
    for k, (name, m) in enumerate(items):
        if is_neuron(m):
            if not weighted_open:
                raise ConfigError(f"layer {name!r} ({type(m).__name__}): a neuron must follow a "
                                  f"Conv2d or Linear layer (batch norm and pooling may sit "
                                  f"between them)")
            for pool_name, pool in between:
                if isinstance(pool, AVG_POOL_MODULES):
                    conv = next(j for j in range(len(layers) - 1, -1, -1)
                                if isinstance(layers[j], WEIGHTED))
                    if any(isinstance(x, BATCH_NORMS) for x in layers[conv:]):
                        raise ConfigError(f"layer {pool_name!r}: average pooling after batch "
                                          f"norm cannot be folded; pool after the neuron")
                    layers[conv] = fold_avg_pool(layers[conv], pool, pool_name)
                else:  # max pooling of currents -> of spikes
                    after_neuron.append(pool)
                    moved.append(pool_name)
            between = []
            if isinstance(m, snn.Lapicque):
                _scale_input(layers, _lapicque_gain(name, m), name)
            # an integrator never fires, and without a reset its timing cannot differ; Lapicque
            # always resets one step late
            late = getattr(m, "reset_delay", False) or isinstance(m, snn.Lapicque)
            if late and not isinstance(m, SpecLeaky) and \
                    getattr(m, "reset_mechanism", "") != "none" and \
                    (k != neurons[-1] or readout == "spikes"):
                delayed.append(name)
            layers.append(_neuron(name, m, k == neurons[-1] and readout == "membrane",
                                  surrogate))
            layers.extend(after_neuron)
            after_neuron = []
            weighted_open = False
        elif isinstance(m, WEIGHTED):
            if weighted_open:
                raise ConfigError(f"layer {name!r}: two weighted layers with no neuron between "
                                  f"them")
            layers.append(m)
            weighted_open = True
        elif isinstance(m, BATCH_NORMS):
            if not weighted_open or between or not isinstance(layers[-1], WEIGHTED):
                raise ConfigError(f"layer {name!r} ({type(m).__name__}): batch norm must "
                                  f"directly follow a Conv2d or Linear layer")
            layers.append(m)
        elif isinstance(m, POOL_MODULES) and weighted_open:
            between.append((name, m))
        elif isinstance(m, (*POOL_MODULES, nn.Flatten)):
            layers.append(m)
        else:
            raise _not_adoptable(name, m)
    _warn_approximations(delayed, moved, steps, stacklevel=3)
    net = SpikingNetwork(layers, tuple(input_shape), steps)
    net.metadata["adopted"] = {"reads": sorted(captured.reads),
                               "per_step_input": captured.per_step_input}
    return net


class _Current:
    """A weighted layer's output before any neuron: its spec node, and max pooling of it that
    waits for the neuron (to follow it, as in a chain)."""

    def __init__(self, node: int, name: str):
        self.node, self.name, self.pools = node, name, []


SPIKES, INPUT_VALUE, SUM_CURRENT = "spikes", "input", "sum-current"


def _adopt_graph(model: nn.Module, captured: Capture, input_shape: tuple[int, ...], steps: int,
                 readout: str, surrogate: str | None) -> SpikingNetwork:
    """``adopt`` for a model whose forward sums branches: a graph spec's nodes (see
    ``leanspike.spec``). A sum a neuron integrates is an ``Add`` carrying that neuron, its
    inputs weighted layers without neurons (their currents) and spikes (an identity shortcut);
    a sum of spike trains that the next layer receives is an ``Add`` without a neuron."""
    items = captured.steps
    users: dict[int, list[int]] = {}
    for k, st in enumerate(items):
        for j in st.inputs:
            users.setdefault(j, []).append(k)
    nodes: list[dict] = []  # mods (modules), inputs (spec indices), name, kind
    value: dict[int, object] = {INPUT: (INPUT_VALUE, INPUT)}  # step -> what it gives
    neuron_steps = [k for k, st in enumerate(items) if st.neuron]
    if neuron_steps[-1] != len(items) - 1:
        raise ConfigError(f"layer {items[-1].name!r}: the model must end with its output neuron")
    delayed, moved = [], []

    def new_node(mods: list[nn.Module], inputs: tuple[int, ...], name: str) -> int:
        nodes.append({"mods": mods, "inputs": inputs, "name": name})
        return len(nodes) - 1

    def spike_like(k: int, st, why: str) -> int:
        """The spec node of step ``k``'s input that must be spikes (or the input)."""
        v = value[k]
        if isinstance(v, _Current):
            raise ConfigError(f"{st.name!r} ({st.source}): {why} the current of {v.name!r}, "
                              f"a weighted layer without a neuron; a current reaches only a "
                              f"neuron (directly, or summed with a shortcut)")
        if v[0] == SUM_CURRENT:
            raise ConfigError(f"{st.name!r} ({st.source}): {why} a sum of currents that no "
                              f"neuron integrates")
        return v[1]

    for k, st in enumerate(items):
        m, name = st.module, st.name
        src = st.inputs[0]
        if isinstance(m, _SKIP):
            value[k] = value[src]
            continue
        if st.neuron:
            v = value[src]
            output = k == neuron_steps[-1] and readout == "membrane"
            if isinstance(v, _Current) and len(users.get(src, [])) == 1:
                node = nodes[v.node]
                if isinstance(m, snn.Lapicque):
                    _scale_input(node["mods"], _lapicque_gain(name, m), name)
            elif isinstance(v, tuple) and v[0] == SUM_CURRENT:
                node = nodes[v[1]]
                if isinstance(m, snn.Lapicque):
                    raise ConfigError(f"layer {name!r} (Lapicque): its input gain dt/C cannot "
                                      f"go into a sum with a shortcut; use snn.Leaky")
            else:
                raise ConfigError(f"layer {name!r} ({type(m).__name__}): a neuron must follow a "
                                  f"Conv2d or Linear layer (batch norm and pooling may sit "
                                  f"between them) or a sum of currents, and be its only use")
            late = getattr(m, "reset_delay", False) or isinstance(m, snn.Lapicque)
            if late and not isinstance(m, SpecLeaky) and \
                    getattr(m, "reset_mechanism", "") != "none" and \
                    (k != neuron_steps[-1] or readout == "spikes"):
                delayed.append(name)
            node["mods"].append(_neuron(name, m, output, surrogate))
            here = nodes.index(node)
            for pool_name, pool in getattr(v, "pools", []):
                here = new_node([pool], (here,), pool_name)
                moved.append(pool_name)
            value[k] = (SPIKES, here)
            continue
        if isinstance(m, Sum):
            into_neuron = [items[u].neuron for u in users.get(k, [])] == [True]
            inputs = []
            for j in st.inputs:
                v = value[j]
                if isinstance(v, _Current):
                    if not into_neuron:
                        raise ConfigError(f"{name!r} (a + b): adds the current of {v.name!r} (a "
                                          f"weighted layer without a neuron) to spikes, but no "
                                          f"neuron integrates the sum: an analog value and "
                                          f"spikes cannot be summed; feed the sum to a neuron "
                                          f"(spk, mem = lif(cur, mem)) or add spikes")
                    if v.pools:
                        raise ConfigError(f"layer {v.pools[0][0]!r}: max pooling of currents "
                                          f"inside a residual sum cannot be expressed (max(a) "
                                          f"+ b is not max(a + b) of spikes); pool after the "
                                          f"neuron")
                    inputs.append(v.node)
                elif v[0] == INPUT_VALUE:
                    raise ConfigError(f"{name!r} (a + b): adds the model's analog input to "
                                      f"spikes; the network spec sums currents and spikes only; "
                                      f"put a Conv2d/Linear and a neuron on the input first")
                elif v[0] == SUM_CURRENT:
                    raise ConfigError(f"{name!r} (a + b): adds a sum of currents that no neuron "
                                      f"integrates")
                else:
                    inputs.append(v[1])
            here = new_node([SpecAdd()], tuple(inputs), name)
            value[k] = (SUM_CURRENT, here) if into_neuron else (SPIKES, here)
            nodes[here]["sew"] = not into_neuron
            continue
        v = value[src]
        if isinstance(m, WEIGHTED):
            if isinstance(v, _Current):
                raise ConfigError(f"layer {name!r}: two weighted layers with no neuron between "
                                  f"them")
            here = new_node([m], (spike_like(src, st, "reads"),), name)
            value[k] = _Current(here, name)
            continue
        if isinstance(m, BATCH_NORMS):
            if not isinstance(v, _Current) or v.pools or len(users.get(src, [])) != 1 or \
                    not isinstance(nodes[v.node]["mods"][-1], WEIGHTED):
                raise ConfigError(f"layer {name!r} ({type(m).__name__}): batch norm must "
                                  f"directly follow a Conv2d or Linear layer, and be its only "
                                  f"use")
            nodes[v.node]["mods"].append(m)
            value[k] = v
            continue
        if isinstance(m, POOL_MODULES) and isinstance(v, _Current):
            if len(users.get(src, [])) != 1:
                raise ConfigError(f"layer {name!r}: pools a current that is also used elsewhere")
            if isinstance(m, AVG_POOL_MODULES):
                mods = nodes[v.node]["mods"]
                if v.pools or any(isinstance(x, BATCH_NORMS) for x in mods):
                    raise ConfigError(f"layer {name!r}: average pooling after batch norm or "
                                      f"max pooling cannot be folded; pool after the neuron")
                mods[0] = fold_avg_pool(mods[0], m, name)
            else:
                v.pools.append((name, m))
            value[k] = v
            continue
        if isinstance(m, (*POOL_MODULES, nn.Flatten)):
            if isinstance(v, _Current):
                raise ConfigError(f"layer {name!r}: flattens the current of {v.name!r} before "
                                  f"its neuron; flatten after the neuron")
            if isinstance(m, MAX_POOL_MODULES) and isinstance(v, tuple) and v[1] != INPUT and \
                    nodes[v[1]].get("sew"):
                raise ConfigError(f"layer {name!r}: max pooling of a sum of spike trains (a + b) "
                                  f"is not a spike, which Loihi cannot compute; max-pool the "
                                  f"spikes before adding them")
            if isinstance(v, tuple) and v[0] == SUM_CURRENT:
                spike_like(src, st, "pools")
            here = new_node([m], (v[1],), name)
            value[k] = (v[0] if v[0] != SUM_CURRENT else SPIKES, here)
            continue
        raise _not_adoptable(name, m)
    _warn_approximations(delayed, moved, steps, stacklevel=4)
    node_inputs = [None if n["inputs"] == ((i - 1,) if i else (INPUT,))
                   and not isinstance(n["mods"][0], SpecAdd) else n["inputs"]
                   for i, n in enumerate(nodes)]
    net = SpikingNetwork([mod for n in nodes for mod in n["mods"]], input_shape, steps,
                         node_inputs=node_inputs, node_names=[n["name"] for n in nodes])
    net.metadata["adopted"] = {"reads": sorted(captured.reads),
                               "per_step_input": captured.per_step_input}
    try:
        to_spec(net)
    except SpecError as exc:
        raise ConfigError(f"cannot adopt {type(model).__name__}: the graph its forward computes "
                          f"is not one a network spec holds: {exc}") from None
    return net
