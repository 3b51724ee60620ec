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
"""

from __future__ import annotations

import math

import torch
from torch import nn

from leanspike.adapters.snntorch.network import SpikingNetwork
from leanspike.adapters.snntorch.neurons import (
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
)
from leanspike.errors import SpecError
from leanspike.loihi.stages import Stage, residual_join, to_stages
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


def _synapses(stage: Stage, dtype: torch.dtype) -> nn.Module:
    weight = stage.effective_weight().to(dtype)
    # the bias is one per output channel (conv) or neuron (dense); pooling populations have none
    bias = stage.bias[:, 0, 0] if stage.kind == "conv" else stage.bias.flatten()
    has_bias = bool((bias != 0).any())
    if stage.kind == "dense":
        module = nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias, dtype=dtype)
    else:
        module = nn.Conv2d(stage.input_shape[0], weight.shape[0], tuple(weight.shape[2:]),
                           stride=stage.stride, padding=stage.padding, groups=stage.groups,
                           bias=has_bias, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(weight)
        if has_bias:
            module.bias.copy_(bias)
    return module


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


def binary_network(source, *, registry=None, dtype: torch.dtype = torch.float64
                   ) -> SpikingNetwork:
    """The stages of ``source`` (a NetworkSpec, registry entry, spec folder or reference such as
    ``"digits@pruned"`` in ``registry``) as a SpikingNetwork whose layers after the first
    receive binary spikes; its logits are the spec's."""
    spec = resolve_spec(source, registry)
    stages = to_stages(spec)
    join = residual_join(stages)
    if join is not None:
        raise SpecError(f"layers[{join.layer_index}]: a residual join; the binary network is "
                        f"a chain of stages so far, so NeuroBench's hook counts of a residual "
                        f"network are not available here: count its synaptic operations with "
                        f"leanspike.energy.count_operations, which counts every synapse group")
    layers: list[nn.Module] = []
    index: list[int] = []
    shape = tuple(spec.input_shape)  # of each sample between the modules
    for k, stage in enumerate(stages):
        modules: list[nn.Module] = [Cast(dtype)]
        into = (math.prod(stage.input_shape),) if stage.kind == "dense" else stage.input_shape
        if shape != tuple(into):
            modules.append(Reshape(into))
        modules.append(_synapses(stage, dtype))
        out = (math.prod(stage.output_shape),) if stage.kind == "dense" else stage.output_shape
        if tuple(out) != tuple(stage.layer_shape):
            modules.append(Reshape(stage.layer_shape))
        modules.append(_neuron(stage, readout=k == len(stages) - 1))
        shape = tuple(stage.layer_shape)
        layers += modules
        index += [stage.layer_index] * len(modules)
    net = SpikingNetwork(layers, spec.input_shape, spec.timesteps, spec.metadata)
    net.spec_index = index  # spikes recorded under the spec layer of their stage
    return net

