"""Pruning spiking networks down to a few percent of their synapses: gradient rewiring (Grad R),
a growing soft threshold (STDS) and magnitude pruning, on any model's Conv/Linear weights, how
a sparsity target is shared among layers, and each method's plan around the training epochs
(``PruneRecipe``, ``make_schedule``). The training loop that follows a plan is the adapter's
(``leanspike.adapters.snntorch.prune``)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from leanspike.prune.allocation import ALLOCATIONS, allocate, balanced_sparsity
from leanspike.prune.gradr import ALIVE, GradR
from leanspike.prune.magnitude import (
    SCOPES,
    apply_masks,
    check_sparsity,
    cubic_schedule,
    effective_weight,
    magnitude_masks,
)
from leanspike.prune.recipe import (
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    MAGNITUDE_SCHEDULES,
    METHODS,
    REWIRING,
    PruneRecipe,
)
from leanspike.prune.rewiring import RewiringOptimizer, project_masks
from leanspike.prune.schedule import (
    SCHEDULES,
    GradRSchedule,
    MagnitudeSchedule,
    PruningSchedule,
    RewiringSchedule,
    STDSSchedule,
    make_schedule,
)
from leanspike.prune.stds import STDS

__all__ = ["ALIVE", "ALLOCATIONS", "DEFAULT_EPOCHS", "DEFAULT_LR", "MAGNITUDE_SCHEDULES",
           "METHODS", "REWIRING", "SCHEDULES", "SCOPES", "STDS", "GradR", "GradRSchedule",
           "LayerConnectivity", "MagnitudeSchedule", "PruneRecipe", "PruningSchedule",
           "RewiringOptimizer", "RewiringSchedule", "STDSSchedule", "allocate", "apply_masks",
           "balanced_sparsity", "check_sparsity", "connectivity", "cubic_schedule",
           "magnitude_masks", "make_schedule", "project_masks", "prunable"]


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every convolution and Linear layer (the synapses); batch norm and neurons are never
    pruned."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


@dataclass
class LayerConnectivity:
    name: str
    total: int
    alive: int

    @property
    def connectivity(self) -> float:
        return self.alive / self.total if self.total else 1.0


def connectivity(model: nn.Module) -> list[LayerConnectivity]:
    """Live synapses per layer, by the paper's criterion |w| >= 1e-10 on the effective weight."""
    return [LayerConnectivity(n, m.weight.numel(), int((effective_weight(m).abs() >= ALIVE).sum()))
            for n, m in prunable(model)]
