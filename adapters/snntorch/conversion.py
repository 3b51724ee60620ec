"""Conversion as an snnTorch user sees it: trained ANN in, snnTorch SNN out, optionally
fine-tuned at the target T, with accuracy, spike counts and the energy estimate."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from leanspike import spec as S
from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch, to_spec
from leanspike.adapters.snntorch.training import (
    FinetuneConfig,
    FinetuneResult,
    SNNEvaluation,
    evaluate_snn,
    finetune,
)
from leanspike.convert import ConversionReport
from leanspike.convert import convert as convert_to_spec
from leanspike.data import Splits
from leanspike.energy import EnergyModel, EnergyReport, estimate


@dataclass
class ConversionOutcome:
    network: SpikingNetwork  # the snnTorch model, fine-tuned if asked
    spec: S.NetworkSpec  # its spec (what gets registered and deployed)
    report: ConversionReport  # per-layer thresholds and why
    converted_accuracy: float  # straight after conversion
    evaluation: SNNEvaluation  # final accuracy and spikes
    energy: EnergyReport
    finetune: FinetuneResult | None = None

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy

    def metrics(self) -> dict:
        return {"accuracy": self.accuracy, "converted_accuracy": self.converted_accuracy,
                "spikes_per_inference": self.energy.spikes_per_inference,
                "synaptic_ops": self.energy.synaptic_ops, "energy_ratio": self.energy.ratio,
                "energy_model": self.energy.model.name}


# fine-tuning epochs when none are given: fine-tuning is the last step of Datta & Beerel's
# method; the other converters are used as they convert
DEFAULT_FINETUNE_EPOCHS = {"datta": 10}


def convert(model: nn.Module, splits: Splits, *, method: str = "datta", timesteps: int = 2,
            finetune_epochs: int | FinetuneConfig | None = None, surrogate: str = "rectangular",
            spike_grad=None, energy_model: EnergyModel | None = None, device: str = "auto",
            progress: bool = True) -> ConversionOutcome:
    """Convert ``model`` with ``method`` at ``timesteps``, calibrating on the training split,
    then fine-tune for ``finetune_epochs`` (or a FinetuneConfig) and evaluate on the test split.
    By default ``datta`` fine-tunes for 10 epochs (it is the last step of the method) and the
    other converters do not.
    """
    if finetune_epochs is None:
        finetune_epochs = DEFAULT_FINETUNE_EPOCHS.get(method, 0)
    spec, report = convert_to_spec(model, splits.train, method=method, timesteps=timesteps)
    net = to_snntorch(spec, surrogate=None if spike_grad is not None else surrogate,
                      spike_grad=spike_grad)
    before = evaluate_snn(net, splits.test, device=device)
    config = (finetune_epochs if isinstance(finetune_epochs, FinetuneConfig)
              else FinetuneConfig(epochs=int(finetune_epochs), device=device))
    tuned = None
    after = before
    if config.epochs > 0:
        tuned = finetune(net, splits.train, config, progress=progress,
                         desc=f"fine-tune {method} T={timesteps}")
        after = evaluate_snn(net, splits.test, device=device)
        net.metadata["finetune_epochs"] = config.epochs
        spec = to_spec(net.cpu())
    energy = estimate(spec, after.spikes_per_neuron, energy_model)
    return ConversionOutcome(net, spec, report, before.accuracy, after, energy, tuned)
