"""Pruning snnTorch SNNs at their current T: Grad R, STDS or magnitude pruning, with training.

The result keeps its masks as torch pruning reparametrisations (``weight_orig * weight_mask``),
so ``to_spec`` writes them into the network spec and every later stage (registry, energy
accounting, Lava) sees only the live synapses.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.nn.utils import prune as torch_prune
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch, to_spec
from leanspike.adapters.snntorch.training import (
    evaluate_snn,
    make_trainable,
    train_epoch,
)
from leanspike.energy import EnergyModel, estimate
from leanspike.errors import ConfigError
from leanspike.prune import (
    STDS,
    GradR,
    LayerConnectivity,
    RewiringOptimizer,
    apply_masks,
    check_sparsity,
    connectivity,
    cubic_schedule,
    magnitude_masks,
    prunable,
)
from leanspike.prune.allocation import ALLOCATIONS, balanced_sparsity
from leanspike.spec import NetworkSpec
from leanspike.training import resolve_device, set_seed

METHODS = ("gradr", "magnitude", "stds")
REWIRING = ("gradr", "stds")
DEFAULT_LR = {"gradr": 1e-2, "stds": 1e-2, "magnitude": 1e-2}


@dataclass
class PruneResult:
    network: SpikingNetwork
    spec: NetworkSpec
    method: str
    target_sparsity: float
    sparsity: float  # measured over all prunable weights
    accuracy: float
    dense_accuracy: float
    layers: list[LayerConnectivity]
    synaptic_ops: float
    energy_ratio: float
    spikes_per_inference: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    entry_ref: str | None = None

    def metrics(self) -> dict:
        return {"accuracy": self.accuracy, "dense_accuracy": self.dense_accuracy,
                "sparsity": self.sparsity, "target_sparsity": self.target_sparsity,
                "synaptic_ops": self.synaptic_ops, "energy_ratio": self.energy_ratio,
                "spikes_per_inference": self.spikes_per_inference,
                "connectivity": {c.name: c.connectivity for c in self.layers}}


def _bake_masks(net: SpikingNetwork) -> None:
    """Fold existing pruning masks into plain weights (pruned entries stay exactly zero)."""
    for _, m in prunable(net):
        if torch_prune.is_pruned(m):
            torch_prune.remove(m, "weight")


def distillation_loss(teacher: SpikingNetwork, weight: float, temperature: float):
    """A ``train_epoch`` loss that distils from the dense network: (1 - weight) * cross-entropy
    + weight * tau^2 * KL(teacher || student) at temperature tau."""

    def loss(logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = torch.softmax(teacher(x) / teacher.timesteps / temperature, dim=1)
        kd = F.kl_div(F.log_softmax(logits / temperature, dim=1), target, reduction="batchmean")
        return (1 - weight) * F.cross_entropy(logits, y) + weight * temperature ** 2 * kd

    return loss


def measured_sparsity(layers: list[LayerConnectivity]) -> float:
    total = sum(c.total for c in layers)
    return 1 - sum(c.alive for c in layers) / total


def prune(model, train: Dataset, test: Dataset, *, method: str = "gradr",
          target_sparsity: float = 0.95, epochs: int = 200, lr: float | None = None,
          batch_size: int = 64, allocation: str | list[float] = "balanced",
          alpha: float | str = "auto", scope: str = "global", schedule: str = "iterative",
          finetune_fraction: float = 0.5, finetune_lr: float | None = None,
          distill: float = 0.7, distill_temperature: float = 4.0, cosine: bool = True,
          registry=None, name: str | None = None, parent=None,
          energy_model: EnergyModel | None = None, device: str = "auto", seed: int = 0,
          progress: bool = True) -> PruneResult:
    """Prune ``model`` (a SpikingNetwork, spec, registry entry or reference) to
    ``target_sparsity`` while training it for ``epochs`` at its own T. The input model is not
    modified.

    Methods:
    - ``"gradr"``: gradient rewiring (``leanspike.prune.GradR``; ``alpha="auto"`` paces the
      prior so the sparsity follows a cubic ramp to the target).
    - ``"stds"``: a growing soft threshold (``leanspike.prune.STDS``), paced the same way.
    - ``"magnitude"``: magnitude pruning, ``schedule="iterative"`` (Zhu & Gupta's cubic ramp
      over the first 70% of the epochs) or ``"oneshot"``.

    The two rewiring methods rewire for the first ``1 - finetune_fraction`` of the epochs; then
    the masks are fixed (cut to the target if rewiring fell short) and training goes on with
    plain Adam at ``finetune_lr`` (default ``lr``). ``finetune_fraction=0``, ``distill=0``,
    ``allocation="global"`` and a numeric ``alpha`` give the paper's plain Grad R.

    The recipe every method shares (measured on digits, where it decides the 99% figures):
    - ``allocation``: how the target is shared among layers. ``"balanced"`` (default): every
      layer keeps the same number of synapses, a layer smaller than its share stays whole
      (``leanspike.prune.allocation``); Grad R then gets one prior per layer, each with its own
      automatic alpha, and magnitude pruning cuts each layer to its share. ``"global"``: one
      prior (Grad R, as in the paper) or one global magnitude cut (per layer with
      ``scope="layer"``). A list gives each prunable layer's sparsity.
    - ``distill``: weight of knowledge distillation from the dense input network (KL at
      temperature ``distill_temperature``, the rest cross-entropy); 0 trains on labels only.
    - ``cosine``: the learning rate decays to zero (cosine) over the fine-tuning epochs.
    """
    if lr is None:
        lr = DEFAULT_LR[method] if method in DEFAULT_LR else 1e-3
    if method not in METHODS:
        raise ConfigError(f"unknown pruning method {method!r}; choose from {METHODS}")
    if not 0 <= finetune_fraction < 1:
        raise ConfigError(f"finetune_fraction must be in [0, 1), got {finetune_fraction}")
    if schedule not in ("iterative", "oneshot"):
        raise ConfigError(f"schedule must be 'iterative' or 'oneshot', got {schedule!r}")
    if not 0 <= distill <= 1:
        raise ConfigError(f"distill must be in [0, 1], got {distill}")
    if distill and not distill_temperature > 0:
        raise ConfigError(f"distill_temperature must be > 0, got {distill_temperature}")
    check_sparsity(target_sparsity)
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    if isinstance(parent, str) and registry is not None:
        parent = registry.get(parent)
    start = time.perf_counter()
    net = copy.deepcopy(model) if isinstance(model, SpikingNetwork) else \
        to_snntorch(model, registry=registry)
    generator = set_seed(seed)
    dev = resolve_device(device)
    dense = evaluate_snn(net, test, device=dev).accuracy
    loss_fn = None
    if distill:  # the dense network as it came in, frozen
        teacher = copy.deepcopy(net).eval().to(dev)
        teacher.requires_grad_(False)
        loss_fn = distillation_loss(teacher, distill, distill_temperature)
    _bake_masks(net)
    make_trainable(net)
    net.to(dev)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator)
    layers = [m for _, m in prunable(net)]
    layer_sparsity = _layer_sparsity(allocation, layers, target_sparsity)
    finetune_lr = lr if finetune_lr is None else finetune_lr
    rewiring = method in REWIRING
    rewire_epochs = max(1, round(epochs * (1 - finetune_fraction))) if rewiring else 0
    ramp = 1 if schedule == "oneshot" else max(1, round(0.7 * epochs))
    optimizer = _start_optimizer(method, net, layers, lr=lr, target=target_sparsity,
                                 alpha=alpha, steps=rewire_epochs * len(loader), seed=seed,
                                 layer_sparsity=layer_sparsity)
    scheduler = None

    def start_finetuning(opt: torch.optim.Optimizer, epoch: int):
        for group in opt.param_groups:
            group["lr"] = finetune_lr
        if cosine:
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs - epoch))
        return None

    history = []
    bar = tqdm(range(epochs), desc=f"prune {method} -> {target_sparsity:.0%}", unit="epoch",
               disable=not progress)
    for epoch in bar:
        if method == "magnitude" and epoch < ramp:
            if layer_sparsity is None:
                masks = magnitude_masks(layers, cubic_schedule(epoch + 1, ramp, target_sparsity),
                                        scope=scope)
            else:
                masks = [magnitude_masks([m], cubic_schedule(epoch + 1, ramp, x))[0]
                         for m, x in zip(layers, layer_sparsity, strict=True)]
            apply_masks(layers, masks)
            if epoch == 0:  # the masks reparametrise the weights: give Adam the new tensors
                optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad],
                                             lr=lr)
        if method == "magnitude" and epoch == ramp:
            scheduler = start_finetuning(optimizer, epoch)
        if rewiring and epoch == rewire_epochs:  # fix the masks, then fine-tune
            apply_masks(layers, optimizer.masks(at_least=target_sparsity))
            optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad],
                                         lr=finetune_lr)
            scheduler = start_finetuning(optimizer, epoch)
        rewiring_now = isinstance(optimizer, RewiringOptimizer)
        record = {"epoch": epoch + 1, **train_epoch(net, loader, optimizer, dev, loss_fn)}
        if scheduler is not None:
            scheduler.step()
        if rewiring_now:
            record["pruned"], record["regrown"] = optimizer.pop_events()
            if isinstance(optimizer, GradR):
                record["alpha"] = optimizer.alpha
            else:
                record["threshold"] = optimizer.d
        record["sparsity"] = measured_sparsity(connectivity(net))
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", sparsity=f"{record['sparsity']:.3f}")
    if isinstance(optimizer, RewiringOptimizer):  # rewiring to the end (finetune_fraction=0)
        apply_masks(layers, optimizer.masks(at_least=target_sparsity))
    net.eval()
    layer_conn = connectivity(net)
    after = evaluate_snn(net, test, device=dev)
    spec = to_spec(net.cpu())
    spec.metadata["pruned_with"] = {"method": method, "target_sparsity": target_sparsity,
                                    "epochs": epochs}
    net.metadata = dict(spec.metadata)
    energy = estimate(spec, after.spikes_per_neuron, energy_model)
    result = PruneResult(net, spec, method, target_sparsity, measured_sparsity(layer_conn),
                         after.accuracy, dense, layer_conn, energy.synaptic_ops, energy.ratio,
                         energy.spikes_per_inference, history, time.perf_counter() - start)
    if registry is not None:
        if not name:
            raise ConfigError("registering the pruned network needs a name")
        entry = registry.register(
            name, spec, stage="pruned", parent=parent, metrics=result.metrics(),
            params={"method": method, "target_sparsity": target_sparsity, "epochs": epochs,
                    "lr": lr, "finetune_lr": finetune_lr, "allocation": allocation,
                    "alpha": alpha, "scope": scope, "schedule": schedule,
                    "finetune_fraction": finetune_fraction, "distill": distill,
                    "distill_temperature": distill_temperature, "cosine": cosine,
                    "seed": seed})
        result.entry_ref = entry.ref
    return result


def _layer_sparsity(allocation, layers: list, target: float) -> list[float] | None:
    """Per-layer targets from ``allocation``, or None for one global target."""
    if isinstance(allocation, str):
        if allocation not in ALLOCATIONS:
            raise ConfigError(f"unknown allocation {allocation!r}; choose from {ALLOCATIONS} "
                              f"or give one sparsity per prunable layer")
        if allocation == "global":
            return None
        return balanced_sparsity([m.weight.numel() for m in layers], target)
    values = [float(x) for x in allocation]
    if len(values) != len(layers):
        raise ConfigError(f"allocation has {len(values)} sparsities for {len(layers)} "
                          f"prunable layers")
    for x in values:
        check_sparsity(x)
    return values


def _start_optimizer(method: str, net: SpikingNetwork, layers: list, *, lr: float,
                     target: float, alpha, steps: int, seed: int,
                     layer_sparsity: list[float] | None) -> torch.optim.Optimizer:
    weights = [m.weight for m in layers]
    others = [p for p in net.parameters() if all(p is not w for w in weights)]
    if method == "gradr":
        return GradR(weights, others, lr=lr, target_sparsity=target, alpha=alpha,
                     total_steps=steps, seed=seed, layer_sparsity=layer_sparsity)
    if method == "stds":
        return STDS(weights, others, lr=lr, target_sparsity=target, total_steps=steps,
                    layer_sparsity=layer_sparsity)
    return torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
