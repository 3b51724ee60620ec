"""Pruning snnTorch SNNs at their current T: Grad R or magnitude pruning, with training.

The result keeps its masks as torch pruning reparametrisations (``weight_orig * weight_mask``),
so ``to_spec`` writes them into the network spec and every later stage (registry, energy
accounting, Lava) sees only the live synapses.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
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
    GradR,
    LayerConnectivity,
    apply_masks,
    check_sparsity,
    connectivity,
    cubic_schedule,
    magnitude_masks,
    prunable,
)
from leanspike.spec import NetworkSpec
from leanspike.training import resolve_device, set_seed

METHODS = ("gradr", "magnitude")
DEFAULT_LR = {"gradr": 3e-3, "magnitude": 1e-3}


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


def measured_sparsity(layers: list[LayerConnectivity]) -> float:
    total = sum(c.total for c in layers)
    return 1 - sum(c.alive for c in layers) / total


def prune(model, train: Dataset, test: Dataset, *, method: str = "gradr",
          target_sparsity: float = 0.95, epochs: int = 60, lr: float | None = None,
          batch_size: int = 64, alpha: float | str = "auto", scope: str = "global",
          schedule: str = "iterative", finetune_fraction: float = 0.5,
          registry=None, name: str | None = None, parent=None,
          energy_model: EnergyModel | None = None, device: str = "auto", seed: int = 0,
          progress: bool = True) -> PruneResult:
    """Prune ``model`` (a SpikingNetwork, spec, registry entry or reference) to
    ``target_sparsity`` while training it for ``epochs`` at its own T.

    ``method="gradr"``: gradient rewiring (``alpha`` "auto" paces the prior to reach the target;
    see ``leanspike.prune.gradr``). ``method="magnitude"``: global (or per-``scope``) magnitude
    pruning, ``schedule="iterative"`` (cubic ramp over the first 70% of the epochs) or
    ``"oneshot"``, with the remaining epochs fine-tuning. For Grad R, the last
    ``finetune_fraction`` of the epochs train with the masks fixed (0 keeps rewiring to the end,
    as in the paper; a short budget recovers accuracy better with it). The input model is not
    modified.
    """
    if lr is None:  # measured on digits: rewiring wants faster dynamics than fine-tuning
        lr = DEFAULT_LR[method] if method in DEFAULT_LR else 1e-3
    if not 0 <= finetune_fraction < 1:
        raise ConfigError(f"finetune_fraction must be in [0, 1), got {finetune_fraction}")
    if method not in METHODS:
        raise ConfigError(f"unknown pruning method {method!r}; choose from {METHODS}")
    if schedule not in ("iterative", "oneshot"):
        raise ConfigError(f"schedule must be 'iterative' or 'oneshot', got {schedule!r}")
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
    _bake_masks(net)
    make_trainable(net)
    net.to(dev)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator)
    layers = [m for _, m in prunable(net)]
    weights = [m.weight for m in layers]
    history = []
    rewire_epochs = max(1, round(epochs * (1 - finetune_fraction)))
    if method == "gradr":
        others = [p for p in net.parameters() if all(p is not w for w in weights)]
        optimizer = GradR(weights, others, lr=lr, target_sparsity=target_sparsity, alpha=alpha,
                          total_steps=rewire_epochs * len(loader), seed=seed)
    else:
        optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
        ramp = 1 if schedule == "oneshot" else max(1, round(0.7 * epochs))
    bar = tqdm(range(epochs), desc=f"prune {method} -> {target_sparsity:.0%}", unit="epoch",
               disable=not progress)
    for epoch in bar:
        if method == "magnitude" and epoch < ramp:
            level = cubic_schedule(epoch + 1, ramp, target_sparsity)
            apply_masks(layers, magnitude_masks(layers, level, scope=scope))
            if epoch == 0:  # the masks reparametrise the weights: give Adam the new tensors
                optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad],
                                             lr=lr)
        if method == "gradr" and epoch == rewire_epochs:  # fix the masks, then fine-tune
            apply_masks(layers, optimizer.masks(at_least=target_sparsity))
            optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad],
                                         lr=lr)
        rewiring = method == "gradr" and isinstance(optimizer, GradR)
        record = {"epoch": epoch + 1, **train_epoch(net, loader, optimizer, dev)}
        if rewiring:
            record["pruned"], record["regrown"] = optimizer.pop_events()
            record["alpha"] = optimizer.alpha
        record["sparsity"] = measured_sparsity(connectivity(net))
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", sparsity=f"{record['sparsity']:.3f}")
    if isinstance(optimizer, GradR):
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
                    "lr": lr, "alpha": alpha, "scope": scope, "schedule": schedule,
                    "seed": seed})
        result.entry_ref = entry.ref
    return result
