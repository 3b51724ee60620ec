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
from torch import nn
from torch.nn.utils import prune as torch_prune
from torch.utils.data import Dataset

from leanspike import distributed
from leanspike.adapters.snntorch.adopt import adopt
from leanspike.adapters.snntorch.losses import (
    LossFn,
    as_loss,
    cross_entropy,
    readout_for,
    scaled_logits,
    spiking_readout,
)
from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch, to_spec
from leanspike.adapters.snntorch.training import (
    evaluate_snn,
    make_trainable,
    train_epoch,
)
from leanspike.energy import EnergyModel, estimate
from leanspike.progress import progress_bar
from leanspike.prune import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    METHODS,
    REWIRING,
    LayerConnectivity,
    PruneRecipe,
    connectivity,
    make_schedule,
    prunable,
)
from leanspike.registry import check_stage_name, register_stage
from leanspike.spec import NetworkSpec
from leanspike.training import resolve_device, set_seed

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_LR", "METHODS", "REWIRING", "PruneRecipe", "PruneResult",
           "distillation_loss", "measured_sparsity", "prune", "prune_with"]


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


def distillation_loss(teacher: SpikingNetwork, weight: float, temperature: float,
                      base: LossFn = cross_entropy) -> LossFn:
    """A ``train_epoch`` loss that distils from the dense network: (1 - weight) * ``base``
    (cross-entropy on the labels, or the user's loss) + weight * tau^2 * KL(teacher ||
    student) at temperature tau."""

    def loss(out, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = torch.softmax(teacher(x) / teacher.timesteps / temperature, dim=1)
        student = F.log_softmax(scaled_logits(out) / temperature, dim=1)
        kd = F.kl_div(student, target, reduction="batchmean")
        return (1 - weight) * base(out, x, y) + weight * temperature ** 2 * kd

    return loss


def measured_sparsity(layers: list[LayerConnectivity]) -> float:
    total = sum(c.total for c in layers)
    return 1 - sum(c.alive for c in layers) / total


def prune(model, train: Dataset, test: Dataset, *, method: str = "gradr",
          target_sparsity: float = 0.95, epochs: int = DEFAULT_EPOCHS, lr: float | None = None,
          batch_size: int = 64, allocation: str | list[float] = "balanced",
          alpha: float | str = "auto", scope: str = "global", schedule: str = "iterative",
          finetune_fraction: float = 0.5, finetune_lr: float | None = None,
          distill: float = 0.7, distill_temperature: float = 4.0, cosine: bool = True,
          registry=None, name: str | None = None, parent=None,
          energy_model: EnergyModel | None = None, device: str = "auto", seed: int = 0,
          loss=None, progress: bool = True) -> PruneResult:
    """Prune ``model`` (a SpikingNetwork, your own snnTorch model, a spec, a registry entry or
    reference) to
    ``target_sparsity`` while training it for ``epochs`` at its own T. The input model is not
    modified. (``prune_with`` takes the settings as one ``PruneRecipe``.)

    Methods:
    - ``"gradr"``: gradient rewiring (``leanspike.prune.GradR``; ``alpha="auto"`` paces the
      prior so the sparsity follows a cubic ramp to the target).
    - ``"stds"``: a growing soft threshold (``leanspike.prune.STDS``), paced the same way.
    - ``"magnitude"``: magnitude pruning, ``schedule="iterative"`` (Zhu & Gupta's cubic ramp
      over the first 70% of the epochs) or ``"oneshot"``.

    The two rewiring methods rewire for the first ``1 - finetune_fraction`` of the epochs; then
    the masks are fixed (cut to the target if rewiring fell short) and training goes on with
    plain Adam at ``finetune_lr`` (default ``lr``; ``lr`` defaults to the method's
    ``DEFAULT_LR``). ``finetune_fraction=0``, ``distill=0``, ``allocation="global"`` and a
    numeric ``alpha`` give the paper's plain Grad R.

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
    - ``loss``: a ``snntorch.functional`` loss (or any ``loss(record, targets)``) in place of
      cross-entropy on the labels (distillation keeps its share); see ``retrain``.
    """
    recipe = PruneRecipe(
        method=method, target_sparsity=target_sparsity, epochs=epochs, lr=lr,
        batch_size=batch_size, allocation=allocation, alpha=alpha, scope=scope,
        schedule=schedule, finetune_fraction=finetune_fraction, finetune_lr=finetune_lr,
        distill=distill, distill_temperature=distill_temperature, cosine=cosine, seed=seed)
    return prune_with(model, train, test, recipe, registry=registry, name=name, parent=parent,
                      energy_model=energy_model, device=device, loss=loss, progress=progress)


def prune_with(model, train: Dataset, test: Dataset, recipe: PruneRecipe, *, registry=None,
               name: str | None = None, parent=None, energy_model: EnergyModel | None = None,
               device: str = "auto", loss=None, progress: bool = True) -> PruneResult:
    """``prune`` with its settings in one ``recipe``: the method's schedule
    (``leanspike.prune.make_schedule``) decides optimisers, masks and history fields; this loop
    trains, measures and registers."""
    check_stage_name(registry, name, "pruned")
    if isinstance(parent, str) and registry is not None:
        parent = registry.get(parent)
    start = time.perf_counter()
    if isinstance(model, SpikingNetwork):
        net = copy.deepcopy(model)
    elif isinstance(model, nn.Module):  # the user's own model, adopted at its own T
        net = adopt(model, tuple(train[0][0].shape), readout=readout_for(loss))
    else:
        net = to_snntorch(model, registry=registry)
    loss_fn = as_loss(loss, spiking_readout(net))
    generator = set_seed(recipe.seed)
    dev = resolve_device(device)
    dense = evaluate_snn(net, test, device=dev).accuracy
    if recipe.distill:  # the dense network as it came in, frozen
        teacher = copy.deepcopy(net).eval().to(dev)
        teacher.requires_grad_(False)
        loss_fn = distillation_loss(teacher, recipe.distill, recipe.distill_temperature,
                                    loss_fn)
    _bake_masks(net)
    make_trainable(net)
    net.to(dev)
    loader = distributed.train_loader(train, recipe.batch_size, seed=recipe.seed,
                                      generator=generator)
    layers = [m for _, m in prunable(net)]
    plan = make_schedule(recipe, net, layers, steps_per_epoch=len(loader))
    history = []
    bar = progress_bar(range(recipe.epochs), enabled=progress and distributed.is_main(),
                       unit="epoch",
                       desc=f"prune {recipe.method} -> {recipe.target_sparsity:.0%}")
    for epoch in bar:
        optimizer = plan.before_epoch(epoch)
        record = {"epoch": epoch + 1,
                  **train_epoch(net, loader, optimizer, dev, loss_fn, epoch=epoch)}
        plan.after_epoch(epoch, record)
        record["sparsity"] = measured_sparsity(connectivity(net))
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", sparsity=f"{record['sparsity']:.3f}")
    plan.finish()
    net.eval()
    layer_conn = connectivity(net)
    after = evaluate_snn(net, test, device=dev)
    spec = to_spec(net.cpu())
    spec.metadata["pruned_with"] = {"method": recipe.method,
                                    "target_sparsity": recipe.target_sparsity,
                                    "epochs": recipe.epochs}
    net.metadata = dict(spec.metadata)
    energy = estimate(spec, after.spikes_per_neuron, energy_model)
    result = PruneResult(net, spec, recipe.method, recipe.target_sparsity,
                         measured_sparsity(layer_conn), after.accuracy, dense, layer_conn,
                         energy.synaptic_ops, energy.ratio, energy.spikes_per_inference,
                         history, time.perf_counter() - start)
    entry = register_stage(registry, name, spec, stage="pruned", parent=parent,
                           metrics=result.metrics(), params=recipe.params())
    result.entry_ref = entry.ref if entry is not None else None
    return result
