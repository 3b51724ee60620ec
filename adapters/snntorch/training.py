"""Evaluate and fine-tune snnTorch SNNs with surrogate-gradient BPTT.

Used by conversion (fine-tuning at the target T) and later stages (IIR retraining, pruning).
Thresholds and leaks become trainable parameters, kept in range after every step (threshold > 0,
0 <= leak <= 1); the loss is cross-entropy on the output membrane potential divided by T, so the
logits keep the ANN's scale whatever T is.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from leanspike import distributed
from leanspike.adapters.snntorch.losses import LossFn, cross_entropy
from leanspike.adapters.snntorch.network import SpikingNetwork
from leanspike.adapters.snntorch.neurons import CURRENT_BASED, SpecIntegrator, SpecLeaky
from leanspike.errors import ConfigError
from leanspike.progress import progress_bar
from leanspike.training import resolve_device, set_seed

MIN_THRESHOLD = 1e-4



@dataclass
class SNNEvaluation:
    accuracy: float
    spikes_per_neuron: dict[int, float]  # per spiking spec layer, per sample, summed over T
    samples: int


@torch.no_grad()
def evaluate_snn(net: SpikingNetwork, data: Dataset | DataLoader, *,
                 device: str | torch.device = "cpu", batch_size: int = 256,
                 timesteps: int | None = None) -> SNNEvaluation:
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    device = resolve_device(device)
    was_training = net.training
    net.eval().to(device)
    correct = total = 0
    spike_sums: dict[int, float] = {}
    for x, y in loader:
        out = net.run(x.to(device), timesteps=timesteps, record_spikes=True)
        correct += int((out.logits.argmax(1) == y.to(device)).sum())
        total += int(y.numel())
        for i, s in out.spikes.items():
            spike_sums[i] = spike_sums.get(i, 0.0) + float(s.sum()) / s[0, 0].numel()
    net.train(was_training)
    return SNNEvaluation(correct / max(total, 1),
                         {i: v / max(total, 1) for i, v in spike_sums.items()}, total)


def _to_parameter(module: nn.Module, name: str) -> None:
    value = getattr(module, name)
    if not isinstance(value, nn.Parameter):
        delattr(module, name)
        setattr(module, name, nn.Parameter(value.detach().clone()))


def make_trainable(net: SpikingNetwork, *, thresholds: bool = True, leaks: bool = True) -> None:
    """Turn the neurons' thresholds and leaks (snnTorch buffers by default) into parameters."""
    for m in net.modules():
        if isinstance(m, SpecLeaky) and thresholds:
            _to_parameter(m, "threshold")
        if isinstance(m, (SpecLeaky, SpecIntegrator)) and leaks:
            _to_parameter(m, "beta")
        if isinstance(m, CURRENT_BASED) and leaks:
            _to_parameter(m, "alpha")


@torch.no_grad()
def _ranges(net: SpikingNetwork) -> list[tuple[torch.Tensor, float, float | None]]:
    """The neuron parameters an optimiser step can move out of range, with their ranges:
    thresholds stay >= MIN_THRESHOLD, leaks and current decays in [0, 1]. Buffers and frozen
    parameters never move, so they are not clamped after every step."""
    found = []
    for m in net.modules():
        if isinstance(m, SpecLeaky):
            found.append((m.threshold, MIN_THRESHOLD, None))
        if isinstance(m, (SpecLeaky, SpecIntegrator)):
            found.append((m.beta, 0.0, 1.0))
        if isinstance(m, CURRENT_BASED):
            found.append((m.alpha, 0.0, 1.0))
    return [(t, lo, hi) for t, lo, hi in found
            if isinstance(t, nn.Parameter) and t.requires_grad]


def _keep_in_range(ranges: list[tuple[torch.Tensor, float, float | None]]) -> None:
    with torch.no_grad():
        for t, lo, hi in ranges:
            t.clamp_(lo, hi)


@dataclass
class FinetuneConfig:
    """Defaults follow Datta & Beerel's fine-tuning (Adam) with a learning rate scaled up for
    small datasets; the papers' CIFAR setting is lr=1e-4."""

    epochs: int = 10
    lr: float = 3e-4
    batch_size: int = 64
    weight_decay: float = 0.0
    train_thresholds: bool = True
    train_leaks: bool = True
    seed: int = 0
    device: str = "auto"
    amsgrad: bool = False
    lr_milestones: tuple[float, ...] = ()  # fractions of the epochs where lr is divided by 5
    relative_threshold_lr: bool = False  # thresholds step in proportion to their size

    def __post_init__(self):
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


@dataclass
class FinetuneResult:
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)


class _Run(nn.Module):
    """``net.run`` as a forward, so DistributedDataParallel can hook the BPTT pass (it passes
    the SpikingOutput through untouched)."""

    def __init__(self, net: SpikingNetwork):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        return self.net.run(x, record_spikes=False)


def train_epoch(net: SpikingNetwork, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device, loss_fn: LossFn | None = None, *, epoch: int = 0) -> dict:
    """One epoch of BPTT over the network's T steps; neurons kept in range after each step.
    ``loss_fn(output, x, y)`` (``leanspike.adapters.snntorch.losses``) defaults to
    cross-entropy on the output divided by T. Under torchrun the gradients are averaged over
    the processes before each step (``loader`` from ``leanspike.distributed.train_loader``,
    reshuffled for ``epoch``), and the returned loss and accuracy cover every shard."""
    loss_fn = cross_entropy if loss_fn is None else loss_fn
    net.train()
    distributed.set_epoch(loader, epoch)
    # built per epoch: pruning changes which tensors are parameters between epochs; buffers
    # (neuron state, masks) are the same on every rank by construction, so not broadcast
    run = distributed.wrap(_Run(net), broadcast_buffers=False)
    ranges = _ranges(net)
    seen = correct = 0
    loss_sum = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        out = run(x)
        loss = loss_fn(out, x, y)
        loss.backward()
        optimizer.step()
        _keep_in_range(ranges)
        loss_sum += loss.item() * y.numel()
        correct += int((out.logits.argmax(1) == y).sum())
        seen += y.numel()
    loss_sum, correct, seen = distributed.all_sum(loss_sum, correct, seen)
    return {"loss": loss_sum / seen, "train_accuracy": correct / seen}


def parameter_groups(net: SpikingNetwork, lr: float, relative_thresholds: bool) -> list[dict]:
    """Adam's step is about ``lr`` whatever a parameter's scale, so a threshold of 7 moves as
    slowly as one of 0.1; with ``relative_thresholds`` each layer's threshold gets
    lr * mean(|threshold|), i.e. the same relative step."""
    params = [p for p in net.parameters() if p.requires_grad]
    if not relative_thresholds:
        return [{"params": params}]
    groups, special = [], set()
    for m in net.modules():
        if isinstance(m, SpecLeaky) and isinstance(m.threshold, nn.Parameter):
            scale = float(m.threshold.detach().abs().mean())
            groups.append({"params": [m.threshold], "lr": lr * max(scale, 1e-3)})
            special.add(id(m.threshold))
    groups.append({"params": [p for p in params if id(p) not in special]})
    return groups


def finetune(net: SpikingNetwork, train: Dataset, config: FinetuneConfig | None = None, *,
             progress: bool = True, desc: str = "fine-tune SNN",
             loss_fn: LossFn | None = None) -> FinetuneResult:
    """Surrogate-gradient BPTT over T steps; weights, thresholds and leaks are trained on
    ``loss_fn`` (default: cross-entropy on the output divided by T)."""
    config = config or FinetuneConfig()
    if config.epochs == 0:
        return FinetuneResult(config=asdict(config))
    generator = set_seed(config.seed)
    device = resolve_device(config.device)
    make_trainable(net, thresholds=config.train_thresholds, leaks=config.train_leaks)
    net.to(device).train()
    loader = distributed.train_loader(train, config.batch_size, seed=config.seed,
                                      generator=generator)
    optimizer = torch.optim.Adam(parameter_groups(net, config.lr, config.relative_threshold_lr),
                                 lr=config.lr, weight_decay=config.weight_decay,
                                 amsgrad=config.amsgrad)
    milestones = sorted({max(1, round(f * config.epochs)) for f in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.2)
    history = []
    start = time.perf_counter()
    bar = progress_bar(range(config.epochs), enabled=progress and distributed.is_main(),
                       desc=desc, unit="epoch")
    for epoch in bar:
        record = {"epoch": epoch + 1,
                  **train_epoch(net, loader, optimizer, device, loss_fn, epoch=epoch)}
        scheduler.step()
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_accuracy']:.3f}")
    net.eval()
    return FinetuneResult(history, time.perf_counter() - start, asdict(config))
