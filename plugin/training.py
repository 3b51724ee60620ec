"""Training and evaluation loops for the ANN stage (plain torch, any nn.Module classifier)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from leanspike import distributed
from leanspike.data import Splits
from leanspike.errors import ConfigError
from leanspike.progress import progress_bar


def set_seed(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; the returned generator drives data shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available here; "
                         f"use --device cpu")
    return dev


@dataclass
class TrainConfig:
    """Defaults train the zoo's small models on digits in seconds; papers' settings are presets
    of the algorithm stages that use them."""

    epochs: int = 40
    batch_size: int = 64
    optimizer: str = "sgd"  # "sgd" or "adam"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # "cosine" or "constant"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0

    def __post_init__(self):
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ConfigError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")


# Optimiser settings by origin. "default" trains the zoo's small models on digits in seconds;
# the papers' settings keep their optimiser, momentum and weight decay, with a cosine schedule
# over however many epochs the dataset needs.
PRESETS = {
    "default": TrainConfig(),
    "datta2022": TrainConfig(optimizer="sgd", lr=1e-2, momentum=0.95, weight_decay=5e-4),
    "qcfs2022": TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4),
}
# the preset of the paper each conversion-aware activation comes from
ACTIVATION_PRESETS = {"clip": "datta2022", "qcfs": "qcfs2022"}


def preset_for(activation: str) -> str:
    """The optimiser preset that trains ``activation`` as its paper did ("default" for ReLU)."""
    return ACTIVATION_PRESETS.get(activation, "default")


@dataclass
class TrainResult:
    test_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset | DataLoader, device: str | torch.device = "cpu",
             batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on a dataset or loader."""
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    device = resolve_device(device)
    was_training = model.training
    model.eval().to(device)
    correct = total = 0
    for x, y in loader:
        pred = model(x.to(device)).argmax(1)
        correct += int((pred == y.to(device)).sum())
        total += int(y.numel())
    model.train(was_training)
    return correct / max(total, 1)


def train_ann(model: nn.Module, splits: Splits, config: TrainConfig | None = None, *,
              progress: bool = True,
              on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train a classifier with cross-entropy; returns test accuracy and the per-epoch history.
    Under torchrun (``leanspike.distributed.init``) each process trains on its shard with
    ``config.batch_size`` per process and every process evaluates the whole test set."""
    config = config or TrainConfig()
    generator = set_seed(config.seed)
    device = resolve_device(config.device)
    model.to(device)
    loader = distributed.train_loader(splits.train, config.batch_size, seed=config.seed,
                                      generator=generator, num_workers=config.num_workers,
                                      pin_memory=device.type == "cuda")
    ddp = distributed.wrap(model)  # the model itself in one process
    optimizer = make_optimizer(model, config)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                 if config.schedule == "cosine" else None)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    start = time.perf_counter()
    bar = progress_bar(range(config.epochs), enabled=progress and distributed.is_main(),
                       desc="train ANN", unit="epoch")
    for epoch in bar:
        model.train()
        distributed.set_epoch(loader, epoch)
        seen = correct = 0
        loss_sum = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            out = ddp(x)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * y.numel()
            correct += int((out.argmax(1) == y).sum())
            seen += y.numel()
        if scheduler is not None:
            scheduler.step()
        loss_sum, correct, seen = distributed.all_sum(loss_sum, correct, seen)  # all shards
        record = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_accuracy": correct / seen}
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_accuracy']:.3f}")
        if on_epoch is not None:
            on_epoch(record)
    test_accuracy = evaluate(model, splits.test, device)
    history[-1]["test_accuracy"] = test_accuracy
    return TrainResult(test_accuracy, time.perf_counter() - start, history, asdict(config))
