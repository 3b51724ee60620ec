"""Deploy an STDP-trained TTFS network (``leanspike.stdp``) on Lava for inference.

Each conv layer becomes Lava's stock ``Conv`` synapse (float weights, pruned ones zero) feeding
a ``TTFSNeuron`` population: an integrate-and-fire neuron that fires at most once per sample
(it stays refractory until its next sample window) with the core's pointwise lateral
inhibition, running ``leanspike.stdp.ttfs_step``, the step-by-step form of the core's
definition. First-spike pooling is a ``Conv`` with a one-to-one kernel onto a fire-once neuron
of threshold 0.5: the window's first spike makes it fire.

Timing is the float spec adapter's (``procs.models.window``): every synapse adds one step, so
stage k sees step tau of sample j at j*T + tau + k + 2, and each stage resets at the start of
its windows. Each population records the step (within its window) of every neuron's first
spike, which is compared with the torch model's spike times. The runtime helpers are the
runner's: a failing model or Ctrl-C tears the Lava run down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from lava.proc.conv.process import Conv

from leanspike.adapters.lava.layout import conv_kernel_to_lava, pair_to_lava
from leanspike.adapters.lava.procs.process import StreamInput
from leanspike.adapters.lava.procs.ttfs import PyTTFSNeuronFloat, TTFSNeuron
from leanspike.adapters.lava.runner import execute, stopped_after
from leanspike.errors import ConfigError
from leanspike.stdp.encoding import NEVER
from leanspike.stdp.layers import TTFSConv
from leanspike.stdp.network import TTFSNetwork

POOL_THRESHOLD = 0.5  # one input spike (weight 1) is enough: the window's first spike passes

__all__ = ["TTFSAgreement", "TTFSLavaRun", "TTFSNeuron", "build", "run_ttfs", "verify_ttfs"]


@dataclass
class TTFSLavaRun:
    """First-spike times of every layer (torch order [N, C, H, W], ``NEVER`` when silent)."""

    times: list[torch.Tensor]
    seconds: float
    steps: int
    num_samples: int

    @property
    def output(self) -> torch.Tensor:
        return self.times[-1]

    @property
    def samples_per_s(self) -> float:
        return self.num_samples / self.seconds if self.seconds > 0 else float("inf")


def _lava_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    c, h, w = shape
    return w, h, c


def build(network: TTFSNetwork, num_samples: int):
    """(synapse processes, neuron processes) for ``network``, connected in a chain."""
    synapses, neurons = [], []
    shapes = [network.input_shape, *network.shapes()]
    for k, layer in enumerate(network.layers):
        in_shape, out_shape = _lava_shape(shapes[k]), _lava_shape(shapes[k + 1])
        if isinstance(layer, TTFSConv):
            weight = conv_kernel_to_lava((layer.weight * layer.mask).to(torch.float64))
            syn = Conv(weight=weight, input_shape=in_shape,
                       padding=pair_to_lava((layer.padding, layer.padding)), stride=(1, 1),
                       num_message_bits=0)
            threshold, inhibition = float(layer.threshold), bool(layer.inhibition)
        else:
            c = shapes[k][0]
            weight = np.zeros((c, layer.kernel, layer.kernel, c))
            weight[np.arange(c), :, :, np.arange(c)] = 1.0
            s = layer.stride or layer.kernel
            syn = Conv(weight=weight, input_shape=in_shape, padding=(0, 0), stride=(s, s),
                       num_message_bits=0)
            threshold, inhibition = POOL_THRESHOLD, False
        neuron = TTFSNeuron(shape=out_shape, threshold=threshold, inhibition=inhibition,
                            timesteps=network.timesteps, stage_index=k, num_samples=num_samples)
        syn.a_out.connect(neuron.a_in)
        if neurons:
            neurons[-1].s_out.connect(syn.s_in)
        synapses.append(syn)
        neurons.append(neuron)
    return synapses, neurons


def run_ttfs(network: TTFSNetwork, times: torch.Tensor) -> TTFSLavaRun:
    """Stream input spike times [N, *input_shape] through the network on Lava's CPU
    simulator (float), one T-step window per sample, and read back every layer's first-spike
    times."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    if tuple(times.shape[1:]) != network.input_shape:
        raise ConfigError(f"input times have shape {tuple(times.shape[1:])}, the network "
                          f"expects {network.input_shape}")
    if len(times) == 0:
        raise ConfigError("no samples to run")
    n, steps_per_sample = len(times), network.timesteps
    # input spikes one step at a time: [N*T, X, Y, C], sent one row per Lava step
    wave = (times.unsqueeze(1) == torch.arange(steps_per_sample).view(1, -1, 1, 1, 1))
    data = wave.permute(0, 1, 4, 3, 2).reshape(n * steps_per_sample,
                                               *_lava_shape(network.input_shape))
    source = StreamInput(data=data.numpy().astype(np.float64), timesteps=1)
    synapses, neurons = build(network, n)
    source.s_out.connect(synapses[0].s_in)
    steps = n * steps_per_sample + len(neurons)
    config = Loihi2SimCfg(select_tag="floating_pt",
                          exception_proc_model_map={TTFSNeuron: PyTTFSNeuronFloat})
    start = time.perf_counter()
    with stopped_after(source):
        execute(source, steps, config)
        recorded = [neuron.first_spike.get() for neuron in neurons]
    seconds = time.perf_counter() - start
    out = []
    for r in recorded:
        t = torch.from_numpy(np.asarray(r).astype(np.int64)).permute(0, 3, 2, 1).contiguous()
        out.append(torch.where(t < 0, torch.full_like(t, NEVER), t))
    return TTFSLavaRun(out, seconds, steps, n)


@dataclass
class TTFSAgreement:
    """How the Lava run's first-spike times compare with the torch model's, layer by layer."""

    layers: list[dict]  # name, neurons, mismatched, spikes

    @property
    def exact(self) -> bool:
        return all(layer["mismatched"] == 0 for layer in self.layers)

    def __str__(self) -> str:
        parts = [f"{d['name']}: {d['mismatched']} of {d['neurons']} first-spike times differ "
                 f"({d['spikes']} spikes)" for d in self.layers]
        verdict = "Lava agrees with torch exactly" if self.exact else "LAVA DIFFERS FROM TORCH"
        return verdict + "; " + "; ".join(parts)


def verify_ttfs(network: TTFSNetwork, times: torch.Tensor,
                lava_run: TTFSLavaRun | None = None) -> TTFSAgreement:
    """Run ``times`` on Lava (unless ``lava_run`` is given) and on the torch model, and
    compare every neuron's first-spike time."""
    lava_run = lava_run or run_ttfs(network, times)
    reference = network.run(times)
    layers = []
    for i, (a, b) in enumerate(zip(lava_run.times, reference.times)):
        layers.append({"name": f"layers[{i}]", "neurons": a.numel(),
                       "mismatched": int((a != b).sum()), "spikes": int((b < NEVER).sum())})
    return TTFSAgreement(layers)
