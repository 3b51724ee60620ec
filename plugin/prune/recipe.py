"""The settings of one pruning run, shared by every method, and the library's defaults for them.

One dataclass instead of two dozen keywords: the adapter's ``prune(...)`` builds it from its
keywords, a schedule (``leanspike.prune.schedule``) reads what it needs, and the registry
records ``params()``. The constants are what command lines and configs offer as choices and
defaults, so they cannot drift from what the library does.
"""

from __future__ import annotations

from dataclasses import dataclass

from leanspike.errors import ConfigError
from leanspike.prune.allocation import check_allocation
from leanspike.prune.magnitude import SCOPES, check_sparsity

METHODS = ("gradr", "magnitude", "stds")
REWIRING = ("gradr", "stds")  # the methods whose synapses can grow back
MAGNITUDE_SCHEDULES = ("iterative", "oneshot")
DEFAULT_EPOCHS = 200
DEFAULT_LR = {"gradr": 1e-2, "stds": 1e-2, "magnitude": 1e-2}  # lr=None means these


@dataclass
class PruneRecipe:
    """How to prune: the method, its target and the training around it (see the adapter's
    ``prune`` for what each setting does). ``lr=None`` is the method's ``DEFAULT_LR``;
    ``finetune_lr=None`` is ``lr``. Checked on construction, so a bad setting fails before any
    network is loaded."""

    method: str = "gradr"
    target_sparsity: float = 0.95
    epochs: int = DEFAULT_EPOCHS
    lr: float | None = None
    batch_size: int = 64
    allocation: str | list[float] = "balanced"
    alpha: float | str = "auto"
    scope: str = "global"
    schedule: str = "iterative"
    finetune_fraction: float = 0.5
    finetune_lr: float | None = None
    distill: float = 0.7
    distill_temperature: float = 4.0
    cosine: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"unknown pruning method {self.method!r}; choose from {METHODS}")
        if not 0 <= self.finetune_fraction < 1:
            raise ConfigError(f"finetune_fraction must be in [0, 1), got {self.finetune_fraction}")
        if self.schedule not in MAGNITUDE_SCHEDULES:
            raise ConfigError(f"schedule must be 'iterative' or 'oneshot', got {self.schedule!r}")
        if not 0 <= self.distill <= 1:
            raise ConfigError(f"distill must be in [0, 1], got {self.distill}")
        if self.distill and not self.distill_temperature > 0:
            raise ConfigError(f"distill_temperature must be > 0, got {self.distill_temperature}")
        check_sparsity(self.target_sparsity)
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        check_allocation(self.allocation)
        if self.scope not in SCOPES:
            raise ConfigError(f"scope must be 'global' or 'layer', got {self.scope!r}")

    @property
    def rewiring(self) -> bool:
        return self.method in REWIRING

    @property
    def resolved_lr(self) -> float:
        """The learning rate pruning trains with (the method's default unless given)."""
        return DEFAULT_LR[self.method] if self.lr is None else self.lr

    @property
    def resolved_finetune_lr(self) -> float:
        """The learning rate of the fine-tuning epochs after the masks are fixed."""
        return self.resolved_lr if self.finetune_lr is None else self.finetune_lr

    def params(self) -> dict:
        """What the registry records about the run (learning rates resolved)."""
        return {"method": self.method, "target_sparsity": self.target_sparsity,
                "epochs": self.epochs, "lr": self.resolved_lr,
                "finetune_lr": self.resolved_finetune_lr, "allocation": self.allocation,
                "alpha": self.alpha, "scope": self.scope, "schedule": self.schedule,
                "finetune_fraction": self.finetune_fraction, "distill": self.distill,
                "distill_temperature": self.distill_temperature, "cosine": self.cosine,
                "seed": self.seed}
