"""The executable definition of a spec's dynamics, in plain torch.

Adapters are tested against this: an snnTorch module or a Lava network built from a spec must
produce the same spikes and the same output as ``simulate(spec, x)``. It favours clarity over
speed; training uses the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from leanspike.errors import ConfigError
from leanspike.spec import (
    AVG_POOLS,
    INPUT,
    LIF,
    MAX_POOLS,
    Add,
    AvgPool1d,
    Conv1d,
    Conv2d,
    Flatten,
    Integrator,
    Linear,
    MaxPool1d,
    NetworkSpec,
    validate,
)


@dataclass
class SimulationResult:
    """Output logits [batch, ...] and spikes [T, batch, ...] per layer index whose output is
    spikes: layers with LIF neurons, and max pooling of spikes (the OR of each window, what a
    pooling population on Loihi fires)."""

    output: torch.Tensor
    spikes: dict[int, torch.Tensor]
    currents: dict[int, torch.Tensor] = field(default_factory=dict)  # [T, batch, ...] if asked

    def spike_counts(self) -> dict[int, float]:
        """Spikes per neuron per sample, summed over T, per spiking layer."""
        return {i: float(s.sum() / (s[0].numel())) for i, s in self.spikes.items()}


def _as_tensor(value, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device=like.device, dtype=like.dtype)
    return torch.tensor(value, device=like.device, dtype=like.dtype)


def effective_weight(layer: Linear | Conv1d | Conv2d) -> torch.Tensor:
    """The weight the dynamics use: pruned synapses (mask == 0) contribute nothing."""
    if layer.mask is None:
        return layer.weight
    return layer.weight * layer.mask.to(layer.weight.dtype)


def synaptic_current(layer: Linear | Conv1d | Conv2d, x: torch.Tensor) -> torch.Tensor:
    w = effective_weight(layer).to(x.dtype)
    b = None if layer.bias is None else layer.bias.to(x.dtype)
    if isinstance(layer, Linear):
        return F.linear(x, w, b)
    conv = F.conv1d if isinstance(layer, Conv1d) else F.conv2d
    return conv(x, w, b, stride=layer.stride, padding=layer.padding)


def max_pool(layer, h: torch.Tensor) -> torch.Tensor:
    pool = F.max_pool1d if isinstance(layer, MaxPool1d) else F.max_pool2d
    return pool(h, layer.kernel_size, layer.stride)


def avg_pool(layer, h: torch.Tensor) -> torch.Tensor:
    pool = F.avg_pool1d if isinstance(layer, AvgPool1d) else F.avg_pool2d
    return pool(h, layer.kernel_size, layer.stride)


@torch.no_grad()
def simulate(spec: NetworkSpec, x: torch.Tensor, *, record_spikes: bool = True,
             timesteps: int | None = None, record_currents: tuple[int, ...] = (),
             stop_after: int | None = None) -> SimulationResult:
    """Run the spec on a batch of analog inputs ``x`` [batch, *input_shape] (direct encoding).

    Each step runs the graph's nodes in order, every node on its inputs' outputs of the same
    step (a chain: each on the one before). ``record_currents`` lists layer indices whose
    input current I[t] is kept (of an Add with a neuron: the sum); ``stop_after`` ends each step
    at that layer (for calibrating a partly converted network, whose later layers are not set
    yet). Without it, ``output`` is the last layer's potential (an Integrator) or its spike
    count (a LIF output layer).
    """
    validate(spec)
    if tuple(x.shape[1:]) != tuple(spec.input_shape):
        raise ConfigError(f"input shape {tuple(x.shape[1:])} does not match the spec's "
                         f"input_shape {spec.input_shape}")
    steps = spec.timesteps if timesteps is None else timesteps
    x = x.to(torch.float32)
    state: dict[int, torch.Tensor] = {}
    syn: dict[int, torch.Tensor] = {}  # the synaptic current of current-based neurons
    spikes: dict[int, list[torch.Tensor]] = {}
    currents: dict[int, list[torch.Tensor]] = {}
    out = None
    last = len(spec.layers) - 1 if stop_after is None else stop_after
    readout = last if stop_after is None and spec.spiking_readout else None
    sources = [spec.inputs_of(i) for i in range(last + 1)]
    for _t in range(steps):
        h: dict[int, torch.Tensor] = {INPUT: x}  # every node's output this step
        s: dict[int, torch.Tensor] = {}  # the 0/1 spikes of the nodes whose output is spikes
        for i, layer in enumerate(spec.layers[: last + 1]):
            src = sources[i][0]
            if isinstance(layer, MAX_POOLS):
                h[i] = max_pool(layer, h[src])
                if src in s:  # max of amplitude * s = amplitude * OR of s
                    s[i] = max_pool(layer, s[src])
                    if record_spikes:
                        spikes.setdefault(i, []).append(s[i])
                continue
            if isinstance(layer, AVG_POOLS):
                h[i] = avg_pool(layer, h[src])
                continue
            if isinstance(layer, Flatten):
                h[i] = h[src].flatten(1)
                continue
            if isinstance(layer, Add):
                current = h[src]
                for j in sources[i][1:]:
                    current = current + h[j]
            else:
                current = synaptic_current(layer, h[src])
            n = layer.neuron
            if n is None:  # a sum of spikes (SEW), or a current an Add's neuron integrates
                h[i] = current
                continue
            if i in record_currents:
                currents.setdefault(i, []).append(current)
            if i not in state:
                state[i] = torch.zeros_like(current) + _as_tensor(n.v_init, current)
            if n.current_leak:  # i[t] = current_leak * i[t-1] + I[t], never reset
                current = n.current_leak * syn.get(i, torch.zeros_like(current)) + current
                syn[i] = current
            leak = _as_tensor(n.leak, current) if isinstance(n.leak, torch.Tensor) \
                else n.leak
            u = leak * state[i] + current
            if isinstance(n, Integrator):
                state[i] = u
                h[i] = out = u
                continue
            assert isinstance(n, LIF)
            th = _as_tensor(n.threshold, u)
            s[i] = (u > th).to(u.dtype)
            if n.reset == "subtract":
                u = u - th * s[i]
            elif n.reset == "zero":
                u = u * (1.0 - s[i])
            state[i] = u
            if record_spikes:
                spikes.setdefault(i, []).append(s[i])
            h[i] = s[i] * n.amplitude
            if i == readout:  # a spiking readout: the output is the spike count
                out = h[i] if out is None else out + h[i]
        if stop_after is not None or out is None:
            out = h[last]
    return SimulationResult(output=out, spikes={i: torch.stack(v) for i, v in spikes.items()},
                            currents={i: torch.stack(v) for i, v in currents.items()})
