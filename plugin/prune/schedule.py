"""The plan each pruning method follows around the training epochs.

A schedule owns the optimiser and the learning-rate scheduler: before every epoch it says which
optimiser trains (changing masks and optimisers where its plan says so), after it adds its own
history fields, and at the end fixes the final masks. The training loop (the adapter's) only
asks; it never needs to know which method it runs.

- Rewiring (Grad R, STDS): the rewiring optimiser for the first ``1 - finetune_fraction`` of
  the epochs, then the masks are fixed (cut to the target if rewiring fell short) and plain Adam
  fine-tunes.
- Magnitude: masks along Zhu & Gupta's cubic ramp over the first 70% of the epochs (or all at
  once), with training in between, then fine-tuning.

Fine-tuning is the same for all: Adam at ``finetune_lr``, with ``cosine`` decaying it to zero
over the remaining epochs. A schedule's ``state_dict`` (with the model's) resumes it mid-run.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from leanspike.prune.allocation import allocate
from leanspike.prune.gradr import GradR
from leanspike.prune.magnitude import apply_masks, cubic_schedule, magnitude_masks
from leanspike.prune.recipe import PruneRecipe
from leanspike.prune.rewiring import RewiringOptimizer
from leanspike.prune.state import snapshot
from leanspike.prune.stds import STDS

MAGNITUDE_RAMP = 0.7  # fraction of the epochs the iterative magnitude ramp takes


class PruningSchedule:
    """What every method shares: the layers' targets, the current optimiser and LR scheduler,
    and the fine-tuning phase they all end with. ``layers`` are the model's prunable modules;
    ``steps_per_epoch`` paces methods that steer by optimiser steps."""

    def __init__(self, recipe: PruneRecipe, model: nn.Module, layers: list[nn.Module], *,
                 steps_per_epoch: int):
        self.recipe = recipe
        self.model = model
        self.layers = layers
        self.layer_sparsity = allocate(recipe.allocation, [m.weight.numel() for m in layers],
                                       recipe.target_sparsity)
        self.steps_per_epoch = steps_per_epoch
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.finetuning = False
        self.epochs_done = 0

    def before_epoch(self, epoch: int) -> torch.optim.Optimizer:
        """The optimiser that trains ``epoch`` (0-based), after any change the plan makes."""
        raise NotImplementedError

    def after_epoch(self, epoch: int, record: dict) -> None:
        """Step the LR scheduler; a subclass adds its fields to the epoch's ``record``."""
        if self.scheduler is not None:
            self.scheduler.step()
        self.epochs_done = epoch + 1

    def finish(self) -> None:
        """Fix the final masks in the model (after the last epoch)."""

    def _trainable(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _start_finetuning(self, epoch: int) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.recipe.resolved_finetune_lr
        if self.recipe.cosine:
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, max(1, self.recipe.epochs - epoch))
        self.finetuning = True

    # resuming

    def state_dict(self) -> dict:
        """Where the plan is (epochs done, phase), the masks installed in the model, and the
        optimiser and LR scheduler states: tensors and plain values, a snapshot."""
        pruned = all(torch_prune.is_pruned(m) for m in self.layers)
        return snapshot({
            "epochs_done": self.epochs_done, "finetuning": self.finetuning,
            "masks": [m.weight_mask for m in self.layers] if pruned else None,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict()})

    def load_state_dict(self, state: dict) -> None:
        """Resume a schedule built like this one over a fresh model. Load this before the
        model's own state dict: it installs the masks, whose parameters that one holds."""
        state = snapshot(state)
        self.epochs_done, self.finetuning = state["epochs_done"], state["finetuning"]
        if state["masks"] is not None:
            apply_masks(self.layers, state["masks"])
        self.optimizer = None if state["optimizer"] is None else self._resumed_optimizer()
        self.scheduler = None
        if state["scheduler"] is not None:  # built first: building it resets the rates
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, 1)
            self.scheduler.load_state_dict(state["scheduler"])
        if self.optimizer is not None:  # the saved rates, moments and steps
            self.optimizer.load_state_dict(state["optimizer"])

    def _resumed_optimizer(self) -> torch.optim.Optimizer:
        """The optimiser the plan uses at the saved point (its state is loaded next)."""
        return torch.optim.Adam(self._trainable(), lr=self.recipe.resolved_lr)


class RewiringSchedule(PruningSchedule):
    """Rewire for the first ``1 - finetune_fraction`` of the epochs (at least one), then fix the
    masks and fine-tune. A subclass builds the rewiring optimiser and reports its steering."""

    def __init__(self, recipe: PruneRecipe, model: nn.Module, layers: list[nn.Module], *,
                 steps_per_epoch: int):
        super().__init__(recipe, model, layers, steps_per_epoch=steps_per_epoch)
        self.rewire_epochs = max(1, round(recipe.epochs * (1 - recipe.finetune_fraction)))
        weights = [m.weight for m in layers]
        others = [p for p in model.parameters() if all(p is not w for w in weights)]
        self.rewiring = self._rewiring_optimizer(weights, others,
                                                 self.rewire_epochs * steps_per_epoch)
        self.optimizer = self.rewiring

    def _rewiring_optimizer(self, weights: list[nn.Parameter], others: list[nn.Parameter],
                            total_steps: int) -> RewiringOptimizer:
        raise NotImplementedError

    def _steering(self) -> dict:
        """What the rewiring optimiser steers the sparsity with, for the history."""
        raise NotImplementedError

    def before_epoch(self, epoch: int) -> torch.optim.Optimizer:
        if not self.finetuning and epoch == self.rewire_epochs:
            self._fix_masks()
            self.optimizer = torch.optim.Adam(self._trainable(),
                                              lr=self.recipe.resolved_finetune_lr)
            self._start_finetuning(epoch)
        return self.optimizer

    def after_epoch(self, epoch: int, record: dict) -> None:
        super().after_epoch(epoch, record)
        if not self.finetuning:
            record["pruned"], record["regrown"] = self.rewiring.pop_events()
            record.update(self._steering())

    def finish(self) -> None:
        if not self.finetuning:  # rewired to the end (finetune_fraction=0)
            self._fix_masks()

    def _fix_masks(self) -> None:
        apply_masks(self.layers, self.rewiring.masks(at_least=self.recipe.target_sparsity))

    def _resumed_optimizer(self) -> torch.optim.Optimizer:
        if self.finetuning:
            return torch.optim.Adam(self._trainable(), lr=self.recipe.resolved_finetune_lr)
        return self.rewiring


class GradRSchedule(RewiringSchedule):
    """Grad R: one Laplace prior (or one per layer) with its own, by default automatic, alpha."""

    def _rewiring_optimizer(self, weights, others, total_steps) -> RewiringOptimizer:
        r = self.recipe
        return GradR(weights, others, lr=r.resolved_lr, target_sparsity=r.target_sparsity,
                     alpha=r.alpha, total_steps=total_steps, seed=r.seed,
                     layer_sparsity=self.layer_sparsity)

    def _steering(self) -> dict:
        return {"alpha": self.rewiring.alpha}


class STDSSchedule(RewiringSchedule):
    """STDS: one growing soft threshold (or one per layer)."""

    def _rewiring_optimizer(self, weights, others, total_steps) -> RewiringOptimizer:
        r = self.recipe
        return STDS(weights, others, lr=r.resolved_lr, target_sparsity=r.target_sparsity,
                    total_steps=total_steps, layer_sparsity=self.layer_sparsity)

    def _steering(self) -> dict:
        return {"threshold": self.rewiring.d}


class MagnitudeSchedule(PruningSchedule):
    """Cut the smallest weights along the cubic ramp (``schedule="iterative"``) or at the first
    epoch (``"oneshot"``), each layer to its share or globally, then fine-tune."""

    def __init__(self, recipe: PruneRecipe, model: nn.Module, layers: list[nn.Module], *,
                 steps_per_epoch: int):
        super().__init__(recipe, model, layers, steps_per_epoch=steps_per_epoch)
        if recipe.schedule == "oneshot":
            self.ramp = 1
        else:
            self.ramp = max(1, round(MAGNITUDE_RAMP * recipe.epochs))

    def before_epoch(self, epoch: int) -> torch.optim.Optimizer:
        if epoch < self.ramp:
            apply_masks(self.layers, self._masks(epoch + 1))
            if self.optimizer is None:  # the masks reparametrise the weights: Adam gets those
                self.optimizer = torch.optim.Adam(self._trainable(), lr=self.recipe.resolved_lr)
        if epoch == self.ramp:
            self._start_finetuning(epoch)
        return self.optimizer

    def _masks(self, step: int) -> list[torch.Tensor]:
        r = self.recipe
        if self.layer_sparsity is None:
            return magnitude_masks(self.layers, cubic_schedule(step, self.ramp,
                                                               r.target_sparsity), scope=r.scope)
        return [magnitude_masks([m], cubic_schedule(step, self.ramp, x))[0]
                for m, x in zip(self.layers, self.layer_sparsity, strict=True)]


SCHEDULES: dict[str, type[PruningSchedule]] = {
    "gradr": GradRSchedule, "magnitude": MagnitudeSchedule, "stds": STDSSchedule}


def make_schedule(recipe: PruneRecipe, model: nn.Module, layers: list[nn.Module], *,
                  steps_per_epoch: int) -> PruningSchedule:
    """The schedule of ``recipe.method`` for ``model``'s prunable ``layers``."""
    return SCHEDULES[recipe.method](recipe, model, layers, steps_per_epoch=steps_per_epoch)
