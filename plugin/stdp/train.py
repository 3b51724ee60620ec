"""Layer-wise unsupervised STDP training, with connection pruning during learning.

Layers learn one after the other (Kheradpisheh et al. 2018): the trained layers before the
current one are frozen and turn the training set into its input spike times once; the current
layer then sees the samples one at a time (that is the on-chip setting), and after each its
k winners update their kernels. A layer stops when its convergence measure drops below the
target or after ``max_epochs``. Pruning removes synapses as they fall below the threshold, so
later samples cost fewer updates and fewer synaptic events, and a pruned weight counts as
converged, so the layer also stops sooner.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from leanspike.errors import ConfigError
from leanspike.progress import progress_bar
from leanspike.stdp.layers import TTFSConv, patch_times
from leanspike.stdp.network import TTFSNetwork
from leanspike.stdp.rule import Pruning, STDPRule, apply_stdp, convergence
from leanspike.stdp.wta import k_winners


@dataclass(frozen=True)
class LayerTraining:
    """How one conv layer learns."""

    rule: STDPRule = field(default_factory=STDPRule)
    k: int = 5                 # winners per sample
    radius: int = 1            # lateral inhibition around a winner, in positions
    max_epochs: float = 2.0    # passes over the training set at most
    convergence: float = 0.01  # stop when mean(w(1 - w)) falls below this
    check_every: int = 50      # samples between convergence checks

    def __post_init__(self) -> None:
        if self.k < 1 or self.radius < 0 or self.max_epochs <= 0 or self.check_every < 1:
            raise ConfigError(f"invalid layer training settings {self}")


@dataclass
class LayerReport:
    """What learning one layer cost: samples seen, synaptic updates applied (to live
    synapses), synaptic events integrated, wall-clock and CPU seconds (CPU time is the
    fairer figure on a shared machine); and how it ended."""

    layer: int
    samples: int = 0
    updates: int = 0
    events: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    converged: bool = False
    convergence: float = 1.0
    alive: int = 0
    total: int = 0
    history: list[dict] = field(default_factory=list)  # per check: sample, C, alive

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class LearningReport:
    layers: list[LayerReport]
    seconds: float
    cpu_seconds: float

    @property
    def updates(self) -> int:
        return sum(r.updates for r in self.layers)

    @property
    def events(self) -> int:
        return sum(r.events for r in self.layers)

    def as_dict(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "updates": self.updates, "events": self.events,
                "layers": [r.as_dict() for r in self.layers]}


def train_layerwise(network: TTFSNetwork, train_times: torch.Tensor,
                    layers: LayerTraining | list[LayerTraining] | None = None,
                    pruning: Pruning | None = None, *, seed: int = 0,
                    progress: bool = False) -> LearningReport:
    """Train every conv layer of ``network`` in place with STDP on ``train_times``
    [N, *input_shape] (first-spike times of the encoded training images)."""
    convs = network.conv_indices()
    if layers is None:
        layers = LayerTraining()
    configs = layers if isinstance(layers, list) else [layers] * len(convs)
    if len(configs) != len(convs):
        raise ConfigError(f"{len(configs)} layer training settings for {len(convs)} conv layers")
    pruning = pruning or Pruning(threshold=0.0)
    generator = torch.Generator().manual_seed(seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    reports = []
    for index, config in zip(convs, configs):
        t0, c0 = time.perf_counter(), time.process_time()
        inputs = network.run(train_times, upto=index).output if index else train_times
        report = _train_layer(network, index, inputs, config, pruning, generator, progress)
        report.seconds = time.perf_counter() - t0
        report.cpu_seconds = time.process_time() - c0
        reports.append(report)
    return LearningReport(reports, time.perf_counter() - start, time.process_time() - cpu_start)


def _train_layer(network: TTFSNetwork, index: int, inputs: torch.Tensor, config: LayerTraining,
                 pruning: Pruning, generator: torch.Generator, progress: bool) -> LayerReport:
    conv: TTFSConv = network.layers[index]
    kh, kw = conv.weight.shape[2:]
    report = LayerReport(index, total=conv.mask.numel())
    budget = int(config.max_epochs * len(inputs))
    bar = progress_bar(total=budget, enabled=progress, desc=f"STDP layers[{index}]",
                       unit="sample", leave=False)
    order = torch.empty(0, dtype=torch.int64)
    while report.samples < budget:
        if len(order) == 0:
            order = torch.randperm(len(inputs), generator=generator)
        x, order = inputs[order[0]], order[1:]
        times, v_at, events = conv.fire(x.unsqueeze(0), network.timesteps)
        report.events += events
        a_plus, a_minus = config.rule.rates(report.samples)
        winners = k_winners(times[0], v_at[0], config.k, config.radius)
        if winners:
            padded = patch_times(x, conv.padding)
            for w in winners:
                report.updates += apply_stdp(conv.weight[w.feature], conv.mask[w.feature],
                                             padded[:, w.y:w.y + kh, w.x:w.x + kw], w.time,
                                             a_plus, a_minus)
        report.samples += 1
        bar.update()
        if pruning.due(report.samples):
            conv.prune(pruning.select(conv.weight, conv.mask))
        if report.samples % config.check_every == 0:
            report.convergence = convergence(conv.weight)
            report.history.append({"sample": report.samples, "convergence": report.convergence,
                                   "alive": int(conv.mask.sum())})
            if report.convergence < config.convergence:
                report.converged = True
                break
    bar.close()
    report.convergence = convergence(conv.weight)
    report.alive = int(conv.mask.sum())
    return report
