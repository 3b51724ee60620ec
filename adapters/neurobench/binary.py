"""A leanspike network as its deployed stages, for tools that count what a layer receives.

NeuroBench (and any hook-based counter) decides per layer from the input values: binary spikes
cost ACs, anything else MACs. A ``SpikingNetwork`` hands its layers ``amplitude * spikes`` and
pooled averages, so every layer after the first would count as MACs. ``binary_network`` builds
the same computation from ``leanspike.loihi.to_stages`` instead: every stage after the first
receives 0/1 spikes, each LIF layer's amplitude sits in the next stage's weights, pooling is
folded into the synapses or is a pooling population, and masks are baked into plain weights
(zeros), so a layer holds no pruning reparametrisation for a counter to trip over. It runs the
spec's dynamics in float64 (as ``leanspike.loihi.emulate_float``), and its recorded spikes are
keyed by the spec layer each stage stands for, as ``leanspike.energy.count_operations`` reads
them.

A residual graph (spec format 7: a current-add ``Add`` with a neuron, a SEW sum of spike
trains, any layer on other inputs than the one before) is a ``BinaryGraph``: every synapse
group of the stages (a block's last convolution and its shortcut's unit synapses or 1x1
convolution; a layer after a SEW sum, its weights once on each summed train) is its own
Linear/Conv2d module on its own source's spikes, and the groups of one population are summed
(``SpecAdd``) into its neurons, the population's bias with its first group. Each step runs
the populations in order on their sources' spikes of the same step, as ``emulate_float``.

Relay populations (``leanspike.loihi.alignment``) delay a shortcut's spikes on a pipelined
back-end; here, every source's spikes of a step being there in that step, a relay fires when
its source fires, so it changes no spike and no logit (``emulate_float`` runs them the same
way). They are kept because the deployed network has them: each is its unit synapses (a
module fed its source's spikes, one AC per relayed spike, as ``count_operations`` counts
them) and a stateless ``Relay`` threshold, no snnTorch neuron, so that it records no spikes
and is no activation of NeuroBench's ActivationSparsity (the spec's populations are).

What a hook-based counter then counts is ``count_operations``' convention: MACs for the first
stage's groups (the analog input, every step: one per non-zero input value per live synapse it
reaches), ACs for every other group (one per input spike per live synapse it reaches: folded
pools, pooling populations, shortcut and relay unit synapses included); zero weights and
pruned synapses reach nothing and biases are no synaptic operation. Whatever ``to_stages``
cannot deploy (a shortcut from the analog input past other layers, a max pooling of a SEW sum)
it refuses naming the layer, and so does ``binary_network``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from leanspike import spec as S
from leanspike.adapters.snntorch.network import SpecAdd, SpikingNetwork, SpikingOutput
from leanspike.adapters.snntorch.neurons import (
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
)
from leanspike.loihi.alignment import RELAY_THRESHOLD
from leanspike.loihi.stages import Stage, Synapses, residual_join, to_stages
from leanspike.registry.sources import resolve_spec


class Cast(nn.Module):
    """A stage's input in its synapses' dtype (data loaders and snnTorch's spikes are
    float32)."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.dtype)


class Reshape(nn.Module):
    """Each sample to ``shape``: into the stage's synapses (a flat vector for dense ones, a 1-D
    layer's (C, L) as (C, 1, L) for its convolution) and back to the spec's shape after them."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def _synapses(group: Stage | Synapses, bias: torch.Tensor | None, dtype: torch.dtype
              ) -> nn.Module:
    """A synapse group as a Linear or Conv2d module; ``bias`` (the population's, per neuron)
    where the group carries it, None where it does not."""
    weight = group.effective_weight().to(dtype)
    # the bias is one per output channel (conv) or neuron (dense); pooling populations have none
    if bias is not None:
        bias = bias[:, 0, 0] if group.kind == "conv" else bias.flatten()
    has_bias = bias is not None and bool((bias != 0).any())
    if group.kind == "dense":
        module = nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias, dtype=dtype)
    else:
        module = nn.Conv2d(group.input_shape[0], weight.shape[0], tuple(weight.shape[2:]),
                           stride=group.stride, padding=group.padding, groups=group.groups,
                           bias=has_bias, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(weight)
        if has_bias:
            module.bias.copy_(bias)
    return module


def _group(group: Stage | Synapses, received: tuple[int, ...], stage: Stage,
           bias: torch.Tensor | None, dtype: torch.dtype) -> list[nn.Module]:
    """What one synapse group is between what its source sends (each sample of shape
    ``received``) and the population's neurons (the spec layer's shape): its input cast and
    shaped for the synapses, the synapses, their current in the layer's shape."""
    modules: list[nn.Module] = [Cast(dtype)]
    into = (math.prod(group.input_shape),) if group.kind == "dense" else group.input_shape
    if tuple(received) != tuple(into):
        modules.append(Reshape(into))
    modules.append(_synapses(group, bias, dtype))
    out = (math.prod(group.output_shape),) if group.kind == "dense" else group.output_shape
    if tuple(out) != tuple(stage.layer_shape):
        modules.append(Reshape(stage.layer_shape))
    return modules


def _neuron(stage: Stage, readout: bool) -> nn.Module:
    """The stage's neurons, their parameters in the spec layer's shape."""
    shape = stage.layer_shape

    def shaped(value):
        return value.reshape(shape) if isinstance(value, torch.Tensor) else value

    current = {"alpha": stage.current_leak} if stage.current_leak else {}
    if not stage.spiking:
        return (SpecSynapticIntegrator if current else SpecIntegrator)(
            beta=shaped(stage.leak), v_init=shaped(stage.v_init), **current)
    # a spike is a 1, its amplitude is in the next stage; a spiking readout keeps its own
    return (SpecSynaptic if current else SpecLeaky)(
        beta=shaped(stage.leak), threshold=shaped(stage.threshold), reset_mechanism=stage.reset,
        amplitude=stage.amplitude if readout else 1.0, v_init=shaped(stage.v_init), **current)


class Relay(nn.Module):
    """A relay population (``leanspike.loihi.alignment``) in a same-step network: unit synapses
    bring it its source's spike, its potential is that spike (reset to zero after every step,
    no leak), so it fires exactly when its source fired this step. It keeps no state and is no
    snnTorch neuron: it stands for no spec layer, so it records no spikes and is none of the
    activations NeuroBench's ActivationSparsity counts; its synapses are counted as any
    others."""

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        return (current > RELAY_THRESHOLD).to(current.dtype)


class BinaryGraph(SpikingNetwork):
    """The binary network of a residual graph: a ``SpikingNetwork`` graph whose nodes are the
    stages' synapse groups and populations, not spec layers.

    Node of a population with one synapse group: the group's modules, then its neurons (a
    ``Relay`` for a relay population). With several: one node per group (its modules, the
    current it sends), then a node that sums them (``SpecAdd``, in the groups' order, as
    ``emulate_float`` sums them) into the neurons. ``sources`` are those nodes' inputs,
    ``spec_layer`` the spec layer of every population node whose spikes are recorded: ``run``
    reports spikes keyed by spec layer, as the reference does."""

    def __init__(self, layers: list[nn.Module], node_of: list[int],
                 sources: list[tuple[int, ...]], spec_layer: dict[int, int],
                 input_shape: tuple[int, ...], timesteps: int, metadata: dict | None = None):
        super().__init__(layers, input_shape, timesteps, metadata)
        self.spec_index = list(node_of)  # the node each module belongs to
        self.sources = [tuple(v) for v in sources]
        self.spec_layer = dict(spec_layer)

    def run(self, x: torch.Tensor, timesteps: int | None = None, record_spikes: bool = True,
            schedule: str = "layer") -> SpikingOutput:
        out = super().run(x, timesteps, record_spikes, schedule)
        out.spikes = {self.spec_layer[k]: s for k, s in out.spikes.items()
                      if k in self.spec_layer}
        return out


def _graph(spec: S.NetworkSpec, stages: list[Stage], dtype: torch.dtype) -> BinaryGraph:
    layers: list[nn.Module] = []
    node_of: list[int] = []
    sources: list[tuple[int, ...]] = []
    spec_layer: dict[int, int] = {}
    population: dict[int, int] = {S.INPUT: S.INPUT}  # stage index -> its population's node

    def node(modules: list[nn.Module], inputs: tuple[int, ...]) -> int:
        layers.extend(modules)
        node_of.extend([len(sources)] * len(modules))
        sources.append(inputs)
        return len(sources) - 1

    for k, stage in enumerate(stages):
        groups = stage.synapse_groups(k)
        modules = [_group(g, spec.input_shape if g.source == S.INPUT
                          else stages[g.source].layer_shape, stage,
                          stage.bias if j == 0 else None, dtype)  # the bias with the first
                   for j, g in enumerate(groups)]
        neuron = Relay() if stage.relay else _neuron(stage, readout=k == len(stages) - 1)
        if len(groups) == 1:
            n = node([*modules[0], neuron], (population[groups[0].source],))
        else:
            currents = tuple(node(m, (population[g.source],)) for m, g in zip(modules, groups))
            n = node([SpecAdd(), neuron], currents)
        population[k] = n
        if stage.spiking and not stage.relay:
            spec_layer[n] = stage.layer_index
    return BinaryGraph(layers, node_of, sources, spec_layer, spec.input_shape, spec.timesteps,
                       spec.metadata)


def binary_network(source, *, registry=None, dtype: torch.dtype = torch.float64
                   ) -> SpikingNetwork:
    """The stages of ``source`` (a NetworkSpec, registry entry, spec folder or reference such as
    ``"digits@pruned"`` in ``registry``) as a SpikingNetwork whose layers after the first
    receive binary spikes; its logits are the spec's. A chain is a chain of modules; a residual
    graph a ``BinaryGraph``, one Linear/Conv2d module per synapse group."""
    spec = resolve_spec(source, registry)
    stages = to_stages(spec)
    if residual_join(stages) is not None:
        return _graph(spec, stages, dtype)
    layers: list[nn.Module] = []
    index: list[int] = []
    shape = tuple(spec.input_shape)  # of each sample between the modules
    for k, stage in enumerate(stages):
        modules = [*_group(stage, shape, stage, stage.bias, dtype),
                   _neuron(stage, readout=k == len(stages) - 1)]
        shape = tuple(stage.layer_shape)
        layers += modules
        index += [stage.layer_index] * len(modules)
    net = SpikingNetwork(layers, spec.input_shape, spec.timesteps, spec.metadata)
    net.spec_index = index  # spikes recorded under the spec layer of their stage
    return net
