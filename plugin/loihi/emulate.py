"""Fast torch emulation of hardware stages, in float and in Loihi fixed point.

The float emulation is the spec's dynamics on folded stages (tested equal to
``leanspike.reference.simulate``); the fixed one is bit-exact with Lava's ``fixed_pt`` run of
the same network, so quantisation loss can be measured on a whole test set in a second.
Both step functions are shared with the single-process Lava model.
"""

from __future__ import annotations

import torch

from leanspike.loihi import fixed_point as fx
from leanspike.loihi.stages import Stage, count_output
from leanspike.reference import SimulationResult
from leanspike.spec import INPUT


def lif_float(v: torch.Tensor, i: torch.Tensor, a: torch.Tensor, bias: torch.Tensor,
              leak: float | torch.Tensor, current_leak: float,
              threshold: torch.Tensor | None, reset: str
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One step of the spec neuron from synaptic input ``a``: new v, new current i, and spikes
    unless ``threshold`` is None (the integrating output).

    A current-based neuron (current_leak > 0) first updates its current,
    i = current_leak * i + (a + bias) (the spec's order of operations), which then drives v;
    any other feeds a and the bias straight into v and leaves ``i`` as it was.
    """
    if current_leak:
        i = current_leak * i + (a + bias)
        v = leak * v + i
    else:
        v = leak * v + a + bias
    if threshold is None:
        return v, i, None
    v, s = fx.fire(v, threshold, reset)
    return v, i, s


def float_neuron_step(stage: Stage, v: torch.Tensor, i: torch.Tensor, a: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    return lif_float(v, i, a, stage.bias, stage.leak, stage.current_leak, stage.threshold,
                     stage.reset)


@torch.no_grad()
def emulate_float(stages: list[Stage], x: torch.Tensor, timesteps: int) -> SimulationResult:
    """Run float stages on a batch of analog inputs; output = the last stage's potential, or
    for a spiking readout its spike counts times its amplitude (the reference's output).
    Each step runs the stages in order, each on its sources' spikes of the same step."""
    x = x.to(torch.float64).reshape(x.shape[0], *stages[0].input_shape)  # (C, L) is (C, 1, L)
    v = [st.v_init.expand(x.shape[0], *st.output_shape).clone() for st in stages]
    i = [torch.zeros_like(vk) for vk in v]
    groups = [st.synapse_groups(k) for k, st in enumerate(stages)]
    spikes: dict[int, list[torch.Tensor]] = {}
    for _ in range(timesteps):
        sent = {INPUT: x}
        for k, st in enumerate(stages):
            a = sum(g.synapse(sent[g.source]) for g in groups[k])
            v[k], i[k], s = float_neuron_step(st, v[k], i[k], a)
            if s is not None:
                _record(spikes, st, s)
                sent[k] = s.to(torch.float64)
    spikes = {i: torch.stack(s) for i, s in spikes.items()}
    last = stages[-1]
    if last.spiking:
        output = count_output(spikes[last.layer_index].sum(0), last.amplitude)
    else:
        output = v[-1].to(torch.float32).reshape(-1, *last.layer_shape)
    return SimulationResult(output=output, spikes=spikes)


def _record(spikes: dict[int, list[torch.Tensor]], stage: Stage, s: torch.Tensor) -> None:
    if not stage.relay:  # a relay's spikes are its source's, a step later on a pipeline
        spikes.setdefault(stage.layer_index, []).append(
            s.to(torch.float32).reshape(-1, *stage.layer_shape))


@torch.no_grad()
def emulate_fixed(net: fx.FixedNetwork, x: torch.Tensor, *, quantized_input: bool = False,
                  timesteps: int | None = None) -> tuple[SimulationResult, torch.Tensor]:
    """Run the fixed-point network; returns the result (logits in real units) and the raw
    integer output, which is what Lava's fixed_pt run is compared against: the output
    potential, or for a spiking readout the spike counts."""
    xq = x if quantized_input else net.quantize_input(x)
    batch = xq.shape[0]
    xq = xq.reshape(batch, *net.stages[0].stage.input_shape)  # (C, L) is (C, 1, L)
    v = [fs.v_init.expand(batch, *fs.stage.output_shape).clone() for fs in net.stages]
    u = [torch.zeros_like(vk) for vk in v]
    groups = [fs.synapse_groups(k) for k, fs in enumerate(net.stages)]
    spikes: dict[int, list[torch.Tensor]] = {}
    for _ in range(net.timesteps if timesteps is None else timesteps):
        sent = {INPUT: xq}
        for k, fs in enumerate(net.stages):
            a = sum(fx.integer_synapse(g, w, sent[g.source]) for g, w in groups[k])
            v[k], u[k], s = fx.neuron_step(fs, v[k], u[k], a)
            if s is not None:
                _record(spikes, fs.stage, s)
                sent[k] = s.to(torch.int64)
    spikes = {i: torch.stack(s) for i, s in spikes.items()}
    last = net.stages[-1].stage
    if net.spiking_readout:
        raw = spikes[last.layer_index].sum(0).to(torch.int64)
    else:
        raw = v[-1].reshape(-1, *last.layer_shape)
    return SimulationResult(output=net.real_output(raw), spikes=spikes), raw
