"""A network spec as an ordinary snnTorch model, and back.

``to_snntorch(spec)`` gives a ``SpikingNetwork``: an ``nn.Module`` whose ``layers`` are torch
Conv2d/Linear/AvgPool2d/MaxPool2d/Flatten modules and snnTorch neurons, in spec order, with a
time-loop ``forward``. Pruning masks become torch's own pruning reparametrisation
(``torch.nn.utils.prune``), so snnTorch and torch tools keep working on the model.
``to_spec(network)`` extracts the spec back, bit for bit.

A graph spec (an ``Add``, or a layer whose input is not the one before it) keeps the same module
list, in spec order: an Add is a ``SpecAdd`` (the sum of its inputs) followed by its neuron when
it carries one, and a weighted layer without a neuron is its module alone (its output is the
current an Add's neuron integrates). ``SpikingNetwork.sources`` holds each spec layer's inputs
(spec indices, ``INPUT`` = -1 for the network input; None for a chain, which runs as before),
and ``node_inputs`` / ``node_names`` what the spec wrote, so ``to_spec`` gives it back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from leanspike import spec as S
from leanspike.adapters.snntorch.neurons import (
    CURRENT_BASED,
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
    in_unit_interval,
)
from leanspike.convert.chain import (
    MAX_POOL_MODULES,
    POOL_MODULES,
    WEIGHTED_MODULES,
    shape_layer,
    spec_conv,
    torch_conv,
    torch_pool,
)
from leanspike.errors import ConfigError, SpecError
from leanspike.registry.sources import resolve_spec

# batch norm after a weighted layer: trained as it is, folded into that layer by to_spec
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass
class SpikingOutput:
    """Logits [B, ...] and, if recorded, spikes [T, B, ...] keyed by the spec's layer index:
    of every LIF layer and of every max pooling of spikes (the OR of each window)."""

    logits: torch.Tensor
    spikes: dict[int, torch.Tensor]
    # the output layer at every step [T, B, ...], in the graph (for losses that read time, as
    # snnTorch's do): its membrane (an integrating output) or amplitude * spikes (a spiking one)
    steps: torch.Tensor | None = None

    def spike_counts(self) -> dict[int, float]:
        """Spikes per neuron per sample, summed over T, per spiking spec layer."""
        return {i: float(s.sum() / s[0].numel()) for i, s in self.spikes.items()}


class SpecAdd(nn.Module):
    """A spec ``Add``: the element-wise sum of its inputs, in their order (as the reference
    sums them). Followed by its neuron module when the Add carries one."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class SpikingNetwork(nn.Module):
    """Feed-forward SNN in spec order; ``forward(x)`` runs ``timesteps`` steps of direct input.

    ``node_inputs`` and ``node_names`` are the spec layers' ``inputs`` and ``name`` fields as
    written (None: all unset); ``sources`` each spec layer's inputs when the network is a graph
    (None for a chain: every layer on the one before)."""

    def __init__(self, layers: list[nn.Module], input_shape: tuple[int, ...], timesteps: int,
                 metadata: dict | None = None, *,
                 node_inputs: list[tuple[int, ...] | None] | None = None,
                 node_names: list[str | None] | None = None):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.spec_index = _spec_indices(self.layers)
        self.input_shape = tuple(input_shape)
        self.timesteps = int(timesteps)
        self.metadata = dict(metadata or {})
        self.node_inputs = None if node_inputs is None or all(v is None for v in node_inputs) \
            else [None if v is None else tuple(v) for v in node_inputs]
        self.node_names = None if node_names is None or all(v is None for v in node_names) \
            else list(node_names)
        self.sources = _sources(self.layers, self.spec_index, self.node_inputs)

    def forward(self, x: torch.Tensor, timesteps: int | None = None) -> torch.Tensor:
        return self.run(x, timesteps=timesteps, record_spikes=False).logits

    def __deepcopy__(self, memo) -> SpikingNetwork:
        """A copy, masks included, in any state. After a pass with gradients torch's pruning
        keeps ``weight = weight_orig * mask`` as a plain attribute, a non-leaf tensor that
        ``copy.deepcopy`` refuses: copy it detached, then recompute it in the copy from the
        copy's own ``weight_orig`` and mask, so it stays differentiable as torch leaves it."""
        masked = [(m, hook._tensor_name) for m in self.modules()
                  for hook in m._forward_pre_hooks.values()
                  if isinstance(hook, prune.BasePruningMethod)
                  and not getattr(m, hook._tensor_name).is_leaf]
        computed = [getattr(m, name) for m, name in masked]
        try:
            for (m, name), tensor in zip(masked, computed):
                setattr(m, name, tensor.detach())
            new = type(self).__new__(type(self))
            memo[id(self)] = new
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        finally:
            for (m, name), tensor in zip(masked, computed):
                setattr(m, name, tensor)
        for m, name in masked:
            hook = next(h for h in memo[id(m)]._forward_pre_hooks.values()
                        if isinstance(h, prune.BasePruningMethod) and h._tensor_name == name)
            setattr(memo[id(m)], name, hook.apply_mask(memo[id(m)]))
        return new

    def run(self, x: torch.Tensor, timesteps: int | None = None,
            record_spikes: bool = True, schedule: str = "layer") -> SpikingOutput:
        """Run T steps; ``x`` is [B, *input_shape] (repeated each step) or [T, B, *input_shape].

        ``schedule="layer"`` (the default) runs all T steps of one layer before the next: in a
        feed-forward network a neuron's step t needs only its own step t-1 and the layer
        below's step t, so this is the step-by-step loop reordered, and it lets every
        stateless layer (Conv, Linear, pooling, Flatten, batch norm in eval mode) run once over
        all T*B inputs, and the layers before the first neuron run once on direct input (the
        same x at every step). ``schedule="step"`` is the plain loop (every layer at step t,
        then step t+1): the reference the layer schedule is tested against.
        """
        steps = self.timesteps if timesteps is None else int(timesteps)
        per_step = x.dim() == len(self.input_shape) + 2
        if tuple(x.shape[2 if per_step else 1:]) != self.input_shape:
            raise ConfigError(f"input shape {tuple(x.shape)} does not match the network's "
                              f"input_shape {self.input_shape} (batch first, or time then batch)")
        if per_step and x.shape[0] != steps:
            raise ConfigError(f"input has {x.shape[0]} time steps, the network runs {steps}")
        if schedule not in ("layer", "step"):
            raise ConfigError(f"schedule must be 'layer' or 'step', got {schedule!r}")
        if getattr(self, "sources", None) is not None:  # a graph
            run = self._run_graph_by_step if schedule == "step" else self._run_graph_by_layer
            return run(x, steps, per_step, record_spikes)
        if schedule == "step":
            return self._run_by_step(x, steps, per_step, record_spikes)
        return self._run_by_layer(x, steps, per_step, record_spikes)

    def _nodes(self) -> list[tuple[int, list[int]]]:
        """(spec index, its module indices) per spec layer, in order."""
        nodes: list[tuple[int, list[int]]] = []
        for i, k in enumerate(self.spec_index):
            if nodes and nodes[-1][0] == k:
                nodes[-1][1].append(i)
            else:
                nodes.append((k, [i]))
        return nodes

    def _run_graph_by_step(self, x: torch.Tensor, steps: int, per_step: bool,
                           record_spikes: bool) -> SpikingOutput:
        """A graph, every node at step t, then step t+1; each node on its sources' outputs of
        the same step."""
        states: dict[int, list[torch.Tensor]] = {}
        spikes: dict[int, list[torch.Tensor]] = {}
        outputs: list[torch.Tensor] = []
        readout = self.readout_index
        nodes = self._nodes()
        for t in range(steps):
            h: dict[int, torch.Tensor] = {S.INPUT: x[t] if per_step else x}
            amp: dict[int, torch.Tensor | None] = {S.INPUT: None}  # of a node's spikes
            for k, members in nodes:
                src = self.sources[k]
                value, amplitude = None, None
                for i in members:
                    layer = self.layers[i]
                    if isinstance(layer, SpecAdd):
                        value = layer(*(h[j] for j in src))
                    elif isinstance(layer, (SpecLeaky, SpecIntegrator)):
                        spk, *states[i] = layer(value, *states.get(i, ()))
                        integrator = isinstance(layer, SpecIntegrator)
                        if i == readout:
                            outputs.append(states[i][-1] if integrator else spk)
                        if integrator:
                            value = states[i][-1]
                            continue
                        amplitude = layer.graded_spikes_factor
                        if record_spikes:
                            spikes.setdefault(k, []).append((spk / amplitude).detach())
                        value = spk
                    else:
                        first = value is None
                        value = layer(h[src[0]] if first else value)
                        if first and isinstance(layer, MAX_POOL_MODULES) \
                                and amp[src[0]] is not None:  # amplitude * OR of spikes
                            amplitude = amp[src[0]]
                            if record_spikes:
                                spikes.setdefault(k, []).append((value / amplitude).detach())
                h[k], amp[k] = value, amplitude
        return self._finish(outputs, {i: torch.stack(v) for i, v in spikes.items()})

    def _run_graph_by_layer(self, x: torch.Tensor, steps: int, per_step: bool,
                            record_spikes: bool) -> SpikingOutput:
        """A graph, all T steps of one node, then the next: each node's output is kept, [T*B,
        ...], or [B, ...] while it is the same at every step (``constant``), as in
        ``_run_by_layer``."""
        batch = x.shape[1] if per_step else x.shape[0]
        h: dict[int, torch.Tensor] = {
            S.INPUT: x.reshape(steps * batch, *x.shape[2:]) if per_step else x}
        const: dict[int, bool] = {S.INPUT: not per_step}
        amp: dict[int, torch.Tensor | None] = {S.INPUT: None}
        spikes: dict[int, torch.Tensor] = {}
        readout = self.readout_index
        record = None
        for k, members in self._nodes():
            src = self.sources[k]
            value, constant, amplitude = None, False, None
            for i in members:
                layer = self.layers[i]
                if isinstance(layer, SpecAdd):
                    constant = all(const[j] for j in src)
                    value = layer(*(h[j] if constant or not const[j]
                                    else h[j].repeat(steps, *([1] * (h[j].dim() - 1)))
                                    for j in src))
                    continue
                if isinstance(layer, (SpecLeaky, SpecIntegrator)):
                    integrator = isinstance(layer, SpecIntegrator)
                    out = _neuron_steps(layer, value, steps, batch, constant,
                                        membrane=integrator)
                    if i == readout:
                        record = out
                    constant = False
                    value = out.flatten(0, 1)
                    if not integrator:
                        amplitude = layer.graded_spikes_factor
                        if record_spikes:
                            spikes[k] = (out / amplitude).detach()
                    continue
                first = value is None
                if first:
                    value, constant = h[src[0]], const[src[0]]
                if _batch_independent(layer):
                    value = layer(value)
                elif constant and isinstance(layer, BATCH_NORMS):
                    value = [layer(value) for _ in range(steps)][-1]
                else:  # a module that must see one step at a time
                    chunks = [value] * steps if constant else value.split(batch)
                    value = torch.cat([layer(c) for c in chunks])
                    constant = False
                if first and isinstance(layer, MAX_POOL_MODULES) and amp[src[0]] is not None:
                    amplitude = amp[src[0]]  # amplitude * OR of spikes
                    if record_spikes:
                        spikes[k] = (value / amplitude).detach().unflatten(0, (steps, batch))
            h[k], const[k], amp[k] = value, constant, amplitude
        return self._finish(record, spikes)

    def _finish(self, outputs: list[torch.Tensor] | torch.Tensor,
                spikes: dict[int, torch.Tensor]) -> SpikingOutput:
        record = outputs if isinstance(outputs, torch.Tensor) else torch.stack(outputs)
        # an integrating readout is its last membrane; a spiking one its spike count
        logits = record[-1] if isinstance(self.layers[self.readout_index], SpecIntegrator) \
            else record.sum(0)
        return SpikingOutput(logits, spikes, record)

    def _run_by_step(self, x: torch.Tensor, steps: int, per_step: bool,
                     record_spikes: bool) -> SpikingOutput:
        """Every layer at step t, then step t+1."""
        # each neuron's state, as it returns it after the spikes: (mem,) or (syn, mem)
        states: dict[int, list[torch.Tensor]] = {}
        spikes: dict[int, list[torch.Tensor]] = {}
        outputs: list[torch.Tensor] = []
        readout = self.readout_index
        for t in range(steps):
            h = x[t] if per_step else x
            amplitude = None  # of the spikes h carries, while it carries spikes
            for i, layer in enumerate(self.layers):
                if isinstance(layer, (SpecLeaky, SpecIntegrator)):
                    spk, *states[i] = layer(h, *states.get(i, ()))
                    if i == readout:
                        outputs.append(states[i][-1] if isinstance(layer, SpecIntegrator) else spk)
                    if not isinstance(layer, SpecIntegrator):
                        amplitude = layer.graded_spikes_factor
                        if record_spikes:
                            spikes.setdefault(self.spec_index[i], []).append(
                                (spk / amplitude).detach())
                        h = spk
                else:
                    h = layer(h)
                    if not isinstance(layer, MAX_POOL_MODULES):
                        amplitude = None
                    elif amplitude is not None and record_spikes:  # amplitude * OR of spikes
                        spikes.setdefault(self.spec_index[i], []).append((h / amplitude).detach())
        return self._finish(outputs, {i: torch.stack(v) for i, v in spikes.items()})

    def _run_by_layer(self, x: torch.Tensor, steps: int, per_step: bool,
                      record_spikes: bool) -> SpikingOutput:
        """All T steps of layer k, then layer k+1. ``h`` holds every step's activity, [T*B,
        ...], or, while it is the same at every step (direct input before the first neuron),
        one step's [B, ...] (``constant``)."""
        batch = x.shape[1] if per_step else x.shape[0]
        h = x.reshape(steps * batch, *x.shape[2:]) if per_step else x
        constant = not per_step
        spikes: dict[int, torch.Tensor] = {}
        readout = self.readout_index
        amplitude = None  # of the spikes h carries, while it carries spikes
        record = None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, (SpecLeaky, SpecIntegrator)):
                integrator = isinstance(layer, SpecIntegrator)
                out = _neuron_steps(layer, h, steps, batch, constant, membrane=integrator)
                if i == readout:
                    record = out
                if integrator:  # never fires: what follows it sees its input, as step by step
                    continue
                constant = False
                amplitude = layer.graded_spikes_factor
                if record_spikes:
                    spikes[self.spec_index[i]] = (out / amplitude).detach()
                h = out.flatten(0, 1)
                continue
            if _batch_independent(layer):
                h = layer(h)
            elif constant and isinstance(layer, BATCH_NORMS):
                # batch statistics of the same input: the same output at every step, and the
                # running statistics updated once a step, as step by step
                h = [layer(h) for _ in range(steps)][-1]
            else:  # a module that must see one step at a time (batch norm while training, ...)
                chunks = [h] * steps if constant else h.split(batch)
                h = torch.cat([layer(c) for c in chunks])
                constant = False
            if not isinstance(layer, MAX_POOL_MODULES):
                amplitude = None
            elif amplitude is not None and record_spikes:  # amplitude * OR of spikes
                spikes[self.spec_index[i]] = (h / amplitude).detach().unflatten(0, (steps, batch))
        return self._finish(record, spikes)

    @property
    def readout_index(self) -> int:
        """The output neuron: the last one (an integrator, or a LIF layer read by its spike
        count)."""
        neurons = [i for i, m in enumerate(self.layers) if isinstance(m, (SpecLeaky,
                                                                          SpecIntegrator))]
        if not neurons or any(isinstance(self.layers[i], SpecIntegrator) for i in neurons[:-1]):
            raise SpecError("the network needs one output neuron, its last (a SpecIntegrator, or "
                            "a SpecLeaky read by its spike count)")
        return neurons[-1]


# modules whose output for a batch is the concatenation of their outputs for its parts, and
# that keep no state between calls: the layer schedule runs them once over all T steps
_STATELESS = (*WEIGHTED_MODULES, *POOL_MODULES, nn.Flatten, nn.Unflatten, nn.Identity)


def _batch_independent(module: nn.Module) -> bool:
    if isinstance(module, BATCH_NORMS):  # with running statistics in eval mode: per sample
        return not module.training and module.running_mean is not None
    return isinstance(module, _STATELESS)


def _neuron_steps(layer: nn.Module, h: torch.Tensor, steps: int, batch: int, constant: bool,
                  membrane: bool) -> torch.Tensor:
    """A neuron layer's spikes (or, ``membrane``, its membrane potential) at every step,
    [T, B, ...], from its input at every step ([T*B, ...]) or, ``constant``, the one input of
    every step ([B, ...])."""
    if not membrane and _fusable(layer):
        shape = h.shape if constant else (batch, *h.shape[1:])
        # v_init = 0 (the usual start): beta * 0 + I is I, so the first step is the input
        v0 = None if _all_zero(layer.v_init) else \
            layer.init_mem(torch.empty(shape, dtype=h.dtype, device=h.device))
        beta = _unit_beta(layer.beta)
        threshold, amplitude = layer.threshold, layer.graded_spikes_factor
        return _LeakySteps.apply(h, beta.to(h.dtype), threshold.to(h.dtype),
                                 amplitude.to(h.dtype), v0, steps, constant,
                                 layer.reset_mechanism, layer.surrogate, _SCALE[layer.surrogate],
                                 shape)
    inputs = [h] * steps if constant else h.split(batch)
    if membrane and _plain_integrator(layer):
        return _integrator_steps(layer, inputs)
    state: list[torch.Tensor] = []
    out = []
    for a in inputs:
        spk, *state = layer(a, *state)
        out.append(state[-1] if membrane else spk)
    return torch.stack(out)


def _integrator_steps(layer: nn.Module, inputs: list[torch.Tensor]) -> torch.Tensor:
    """A SpecIntegrator's membrane at every step, [T, B, ...]: ``SpecIntegrator.forward`` step
    after step (u = beta*u + I from init_mem) without the zero spikes it also returns, and,
    from v_init = 0 with a leak that does not learn, the first step's beta * 0 + I as I."""
    learn = layer.beta.requires_grad and torch.is_grad_enabled()
    skip_first = not learn and _all_zero(layer.v_init)
    beta = None if learn or (skip_first and len(inputs) == 1) else _unit_beta(layer.beta)
    out = []
    mem = None
    for t, a in enumerate(inputs):
        if t == 0 and skip_first:
            mem = a
        else:
            if mem is None or mem.shape != a.shape:
                mem = layer.init_mem(a)
            # a learning leak: in_unit_interval per step, the graph SpecIntegrator.forward builds
            mem = (in_unit_interval(layer.beta) if learn else beta) * mem + a
        out.append(mem)
    return out[0].unsqueeze(0) if len(out) == 1 else torch.stack(out)


def _unit_beta(beta: torch.Tensor) -> torch.Tensor:
    """``in_unit_interval(beta)``; for a leak that does not learn, its value (the clamp), one
    operation instead of six."""
    if beta.requires_grad and torch.is_grad_enabled():
        return in_unit_interval(beta)  # as the step path: gradient on the bounds
    return beta.detach().clamp(0, 1)


def _all_zero(v: torch.Tensor) -> bool:
    """Whether ``v`` (a neuron's v_init) is all zeros. The answer (an op per layer and step
    on a CPU, a host sync on an accelerator) is kept on the tensor with its version, so it is
    asked again only after ``v`` has changed in place (load_state_dict, fill_, ...) or been
    replaced (``.to``)."""
    cached = getattr(v, "_leanspike_zero", None)
    if cached is not None and cached[0] == v._version:
        return cached[1]
    zero = not bool(v.any())
    v._leanspike_zero = (v._version, zero)
    return zero


_SCALE = {"rectangular": 1.0, "triangular": 0.3}  # threshold_relative_spike's defaults


def _fusable(layer: nn.Module) -> bool:
    """A SpecLeaky as to_snntorch and adopt build it, with a threshold-relative surrogate: its
    T steps run as one autograd node (``_LeakySteps``). A neuron with forward hooks (its own
    or global ones) is called step by step, as before, so the hooks see every step."""
    from torch.nn.modules import module as torch_module

    hooked = (layer._forward_hooks or layer._forward_pre_hooks
              or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks)
    return (type(layer) is SpecLeaky and layer.surrogate in _SCALE and not hooked
            and not layer.state_quant and not layer.inhibition
            and not layer.graded_spikes_factor.requires_grad)


def _plain_integrator(layer: nn.Module) -> bool:
    """A SpecIntegrator as to_snntorch and adopt build it, without hooks: its steps need not
    be module calls (``_integrator_steps``)."""
    from torch.nn.modules import module as torch_module

    hooked = (layer._forward_hooks or layer._forward_pre_hooks
              or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks)
    return type(layer) is SpecIntegrator and not hooked


class _LeakySteps(torch.autograd.Function):
    """All T steps of a SpecLeaky with a threshold-relative surrogate (``surrogates``), forward
    and BPTT backward in one node: the same arithmetic as ``SpecLeaky.forward`` step after step
    (u = beta*m + I; s = u > threshold; spikes s*amplitude; reset with s detached), without an
    autograd node per operation and step. Gradients: those of the step-by-step graph (the
    surrogate ds/du = scale*window(u/threshold - 1)/threshold, ds/dthreshold = -ds/du *
    u/threshold; the reset term only through the threshold), summed in another order."""

    @staticmethod
    def forward(ctx, h, beta, threshold, amplitude, v0, steps: int, constant: bool,
                reset: str, kind: str, scale: float, shape: tuple[int, ...]):
        # v0 None: v_init = 0, where the first step's beta * 0 + I is I (at T=1 the input
        # itself, saved for backward as it is)
        inputs = [h] * steps if constant else h.view(steps, *shape).unbind(0)
        if v0 is None and steps == 1:
            u_all = inputs[0].unsqueeze(0)
        else:
            u_all = torch.empty((steps, *shape), dtype=h.dtype, device=h.device)
        spk = torch.empty((steps, *shape), dtype=h.dtype, device=h.device)
        m = v0
        for t, a in enumerate(inputs):
            if m is not None:
                u = torch.mul(beta, m, out=u_all[t]).add_(a)  # beta * m + I, as SpecLeaky
            else:
                u = a if steps == 1 else u_all[t].copy_(a)
            if t == steps - 1:  # the last membrane feeds nothing: no reset, s into the spikes
                torch.gt(u, threshold, out=spk[t]).mul_(amplitude)
                break
            s = (u > threshold).to(u.dtype)
            torch.mul(s, amplitude, out=spk[t])
            if reset == "subtract":
                m = u - s * threshold
            elif reset == "zero":
                m = u * (1.0 - s)
            else:
                m = u
        ctx.save_for_backward(u_all, beta, threshold, amplitude, v0)
        ctx.config = (steps, constant, reset, kind, scale)
        return spk

    @staticmethod
    def backward(ctx, grad_spk):
        u_all, beta, threshold, amplitude, v0 = ctx.saved_tensors
        steps, constant, reset, kind, scale = ctx.config
        need_h, need_beta, need_threshold = ctx.needs_input_grad[:3]
        grad_u = torch.empty_like(u_all)  # dL/du_t, the input's gradient at step t
        grad_beta = torch.zeros_like(u_all[0]) if need_beta else None
        grad_threshold = torch.zeros_like(u_all[0]) if need_threshold else None
        # d(spikes)/du = amplitude * scale * window(u/threshold - 1) / threshold; the
        # triangular window is max(0, 1 - |u - threshold| / threshold), the rectangular one
        # |u - threshold| < threshold
        gain = amplitude * scale / threshold
        slope = gain / threshold
        gm = None  # dL/dm_t from step t+1 on
        for t in range(steps - 1, -1, -1):
            u = u_all[t]
            distance = (u - threshold).abs_()
            if kind == "rectangular":
                gu = torch.mul(grad_spk[t], distance < threshold, out=grad_u[t]).mul_(gain)
            else:
                window = torch.addcmul(gain, distance, slope, value=-1.0).clamp_(min=0.0)
                gu = torch.mul(grad_spk[t], window, out=grad_u[t])
            if need_threshold:  # d(spikes)/dthreshold = -d(spikes)/du * u/threshold
                grad_threshold.addcmul_(gu, u / threshold, value=-1.0)
            if gm is not None:  # m_t = reset(u_t) feeds u_{t+1}; the reset signal is detached
                if reset == "zero":
                    gu.addcmul_(gm, (u <= threshold).to(u.dtype))
                else:
                    gu.add_(gm)
                    if reset == "subtract" and need_threshold:
                        grad_threshold.addcmul_(gm, (u > threshold).to(u.dtype), value=-1.0)
            if need_beta:  # u_t = beta * m_{t-1} + I_t
                if t == 0:
                    m_prev = torch.zeros_like(u) if v0 is None else v0
                else:
                    u_prev = u_all[t - 1]
                    s_prev = (u_prev > threshold).to(u.dtype)
                    m_prev = (u_prev - s_prev * threshold if reset == "subtract" else
                              u_prev * (1.0 - s_prev) if reset == "zero" else u_prev)
                grad_beta.addcmul_(gu, m_prev)
            if t > 0:  # the first step's dL/dm would feed v0, a constant
                gm = gu * beta
        grad_h = None
        if need_h:
            grad_h = grad_u[0] if steps == 1 else grad_u.sum(0) if constant \
                else grad_u.flatten(0, 1)
        if need_beta:
            grad_beta = grad_beta.sum_to_size(beta.shape)
        if need_threshold:
            grad_threshold = grad_threshold.sum_to_size(threshold.shape)
        return (grad_h, grad_beta, grad_threshold, None, None, None, None, None, None, None,
                None)


def _sources(modules, spec_index: list[int],
             node_inputs: list[tuple[int, ...] | None] | None) -> list[tuple[int, ...]] | None:
    """Each spec layer's inputs, if the network is a graph (an Add, or an input that is not
    the layer before); None for a chain."""
    count = spec_index[-1] + 1 if spec_index else 0
    if node_inputs is not None and len(node_inputs) != count:
        raise SpecError(f"node_inputs names {len(node_inputs)} layers, the network has {count}")
    own = node_inputs or [None] * count
    sources = [(k - 1,) if v is None else tuple(v) for k, v in enumerate(own)]
    graph = any(isinstance(m, SpecAdd) for m in modules) \
        or any(v != (k - 1,) for k, v in enumerate(sources))
    return sources if graph else None


def _spec_indices(modules) -> list[int]:
    """The spec layer each module belongs to: a neuron shares its weighted layer's index."""
    out, index = [], -1
    for m in modules:
        if not isinstance(m, (SpecLeaky, SpecIntegrator, *BATCH_NORMS)):
            index += 1
        out.append(index)
    return out


def _fold_batch_norm(layer: S.Linear | S.Conv2d, bn: nn.Module, where: str) -> None:
    """Fold batch norm (eval statistics) into the spec layer before it, as torch's
    ``fuse_conv_bn_eval`` does: w * gamma/sigma per output channel, (b - mean) * gamma/sigma +
    beta. A pruning mask stays as it is (a zero weight stays zero)."""
    if bn.running_mean is None:
        raise SpecError(f"{where}: batch norm without running statistics cannot be folded")
    scale = bn.running_var.detach().cpu().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.detach().cpu()
    shift = -bn.running_mean.detach().cpu() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().cpu()
    if scale.shape[0] != layer.weight.shape[0]:
        raise SpecError(f"{where}: batch norm over {scale.shape[0]} channels after a layer with "
                        f"{layer.weight.shape[0]} outputs")
    dtype = layer.weight.dtype
    layer.weight = (layer.weight * scale.view(-1, *([1] * (layer.weight.dim() - 1)))).to(dtype)
    bias = torch.zeros(scale.shape[0], dtype=dtype) if layer.bias is None else layer.bias
    layer.bias = (bias * scale + shift).to(dtype)


def _weighted_module(layer: S.Linear | S.Conv1d | S.Conv2d) -> nn.Module:
    w = layer.weight.detach().clone()
    has_bias = layer.bias is not None
    if isinstance(layer, S.Linear):
        module = nn.Linear(w.shape[1], w.shape[0], bias=has_bias, dtype=w.dtype)
    else:
        module = torch_conv(layer, w.dtype)
    with torch.no_grad():
        module.weight.copy_(w)
        if has_bias:
            module.bias.copy_(layer.bias)
    if layer.mask is not None:
        # without gradients, weight = weight_orig * mask is a leaf until a training pass (which
        # recomputes it): a network built or loaded from a spec copies layer by layer
        with torch.no_grad():
            prune.custom_from_mask(module, "weight", layer.mask.to(w.dtype))
        module.leanspike_mask_dtype = layer.mask.dtype
    return module


def to_snntorch(source, *, registry=None, spike_grad=None, surrogate: str | None = None,
                learn_beta: bool = False, learn_threshold: bool = False,
                batch_norm: bool = False) -> SpikingNetwork:
    """Build the snnTorch model of a spec; ``spike_grad`` is any snnTorch surrogate, or
    ``surrogate`` names a threshold-relative one ("rectangular", "triangular").

    ``batch_norm=True`` puts a fresh batch norm on the input current of every convolution
    (Ledinauskas et al. 2020: statistics per step while training); ``to_spec`` folds each one
    into its convolution with the running statistics, so the spec it gives has none.

    ``source`` is a NetworkSpec, a registry Entry, a spec folder or a registry reference such as
    ``"digits@pruned"`` (looked up in ``registry``, a Registry or its path).
    """
    spec = resolve_spec(source, registry)
    spec.validate()
    modules: list[nn.Module] = []
    # the spec's layer i maps to module index positions; a weighted layer is followed by its neuron
    # (in a graph an Add is a SpecAdd, followed by its neuron if it carries one, and a weighted
    # layer without a neuron is its module alone)
    for layer in spec.layers:
        if isinstance(layer, S.POOLS):
            modules.append(torch_pool(layer))
        elif isinstance(layer, S.Flatten):
            modules.append(nn.Flatten())
        else:
            modules.append(SpecAdd() if isinstance(layer, S.Add) else _weighted_module(layer))
            if batch_norm and isinstance(layer, S.CONVS):
                norm = nn.BatchNorm1d if isinstance(layer, S.Conv1d) else nn.BatchNorm2d
                modules.append(norm(layer.weight.shape[0], dtype=layer.weight.dtype))
            n = layer.neuron
            if n is None:
                continue
            # a current state (current_leak) makes it snn.Synaptic-like; alpha learns as beta
            current = {"alpha": n.current_leak, "learn_alpha": learn_beta} \
                if n.current_leak else {}
            if isinstance(n, S.LIF):
                modules.append((SpecSynaptic if current else SpecLeaky)(
                    beta=n.leak, threshold=n.threshold, reset_mechanism=n.reset,
                    amplitude=n.amplitude, v_init=n.v_init, spike_grad=spike_grad,
                    surrogate=surrogate, learn_beta=learn_beta, learn_threshold=learn_threshold,
                    **current))
            else:
                modules.append((SpecSynapticIntegrator if current else SpecIntegrator)(
                    beta=n.leak, v_init=n.v_init, learn_beta=learn_beta, **current))
    return SpikingNetwork(modules, spec.input_shape, spec.timesteps, spec.metadata,
                          node_inputs=[layer.inputs for layer in spec.layers],
                          node_names=[layer.name for layer in spec.layers])


def _scalar_alpha(module: nn.Module, index: int) -> float:
    alpha = module.alpha.detach().clamp(0, 1)
    if alpha.numel() != 1:
        raise SpecError(f"layers[{index}] ({type(module).__name__}): per-neuron current decays "
                        f"(alpha of shape {tuple(alpha.shape)}) are not supported; use one "
                        f"alpha per layer")
    return float(alpha)


def _scalar_or_tensor(t: torch.Tensor):
    t = t.detach().cpu()
    return float(t) if t.dim() == 0 else t.clone()


def _spec_layer(module: nn.Module, index: int) -> S.Layer:
    if isinstance(module, WEIGHTED_MODULES):
        if hasattr(module, "weight_orig"):
            weight = module.weight_orig.detach().cpu().clone()
            mask = module.weight_mask.detach().cpu().to(
                getattr(module, "leanspike_mask_dtype", weight.dtype))
        else:
            weight, mask = module.weight.detach().cpu().clone(), None
        bias = None if module.bias is None else module.bias.detach().cpu().clone()
        if isinstance(module, nn.Linear):
            return S.Linear(weight, bias, mask)
        if module.groups != 1 or any(d != 1 for d in module.dilation) \
                or isinstance(module.padding, str):
            raise SpecError(f"layers[{index}] ({module}): only groups=1, dilation=1 and numeric "
                            f"padding are supported")
        return spec_conv(module, weight, bias, mask, None)
    if isinstance(module, (*POOL_MODULES, nn.Flatten)):
        return shape_layer(module, f"layers[{index}] ({module})")
    raise SpecError(f"layers[{index}]: {type(module).__name__} has no network-spec equivalent "
                    f"(supported: Linear, Conv1d/2d, average and max pooling, Flatten, SpecLeaky, "
                    f"SpecIntegrator)")


def to_spec(network: SpikingNetwork) -> S.NetworkSpec:
    """Extract the network spec (weights, masks, neuron parameters) from a SpikingNetwork."""
    layers: list[S.Layer] = []
    for i, module in enumerate(network.layers):
        if isinstance(module, BATCH_NORMS):
            if not layers or not isinstance(layers[-1], S.WEIGHTED) \
                    or layers[-1].neuron is not None:
                raise SpecError(f"layers[{i}] ({type(module).__name__}): batch norm must "
                                f"directly follow a Linear or Conv2d layer")
            _fold_batch_norm(layers[-1], module, f"layers[{i}]")
            continue
        if isinstance(module, (SpecLeaky, SpecIntegrator)):
            if not layers or not isinstance(layers[-1], (*S.WEIGHTED, S.Add)) \
                    or layers[-1].neuron is not None:
                raise SpecError(f"layers[{i}] ({type(module).__name__}): a neuron must directly "
                                f"follow a Linear or Conv2d layer (or a SpecAdd)")
            if isinstance(module, SpecLeaky):
                layers[-1].neuron = S.LIF(
                    threshold=_scalar_or_tensor(module.threshold),
                    leak=_scalar_or_tensor(module.beta.clamp(0, 1)),
                    reset=module.reset_mechanism,
                    amplitude=float(module.graded_spikes_factor),
                    v_init=_scalar_or_tensor(module.v_init))
            else:
                layers[-1].neuron = S.Integrator(
                    leak=_scalar_or_tensor(module.beta.clamp(0, 1)),
                    v_init=_scalar_or_tensor(module.v_init))
            if isinstance(module, CURRENT_BASED):
                layers[-1].neuron.current_leak = _scalar_alpha(module, i)
        elif isinstance(module, SpecAdd):
            layers.append(S.Add())
        else:
            layers.append(_spec_layer(module, i))
    for field_name, attribute in (("inputs", "node_inputs"), ("name", "node_names")):
        values = getattr(network, attribute, None)  # absent in a network pickled before graphs
        if values is None:
            continue
        if len(values) != len(layers):
            raise SpecError(f"network.{attribute} names {len(values)} layers, the network has "
                            f"{len(layers)}")
        for layer, value in zip(layers, values):
            setattr(layer, field_name, None if value is None else
                    (tuple(value) if field_name == "inputs" else value))
    spec = S.NetworkSpec(network.input_shape, layers, network.timesteps,
                         metadata=dict(network.metadata))
    _per_neuron(spec)
    return spec.validate()


def _per_neuron(spec: S.NetworkSpec) -> None:
    """Per-channel neuron parameters (a threshold, leak or v_init of shape [C, 1, 1] for a conv,
    as snnTorch users broadcast them) written out per neuron, the shape the spec stores."""
    for layer, shape in zip(spec.layers, spec.layer_shapes(), strict=True):
        neuron = getattr(layer, "neuron", None)
        for name in ("threshold", "leak", "v_init"):
            value = getattr(neuron, name, None)
            if isinstance(value, torch.Tensor) and tuple(value.shape) != shape:
                try:
                    setattr(neuron, name, torch.broadcast_to(value, shape).clone())
                except RuntimeError:
                    raise SpecError(f"{name} of shape {tuple(value.shape)} does not broadcast "
                                    f"to its layer's output {shape}") from None
