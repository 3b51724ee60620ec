"""IIR-SNN retraining of snnTorch models: T -> T-1 -> ... -> 1, each stage initialised from the
previous one without rescaling and retrained with BPTT (thresholds and leaks trainable).

Works on leanspike's converted networks, on registry entries and specs, and on models written
the usual snnTorch way (see ``adopt``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from leanspike.adapters.snntorch.adopt import adopt
from leanspike.adapters.snntorch.losses import as_loss, readout_for, spiking_readout
from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch, to_spec
from leanspike.adapters.snntorch.neurons import SpecLeaky
from leanspike.adapters.snntorch.training import FinetuneConfig, evaluate_snn, finetune
from leanspike.energy import EnergyModel, estimate
from leanspike.errors import ConfigError
from leanspike.retrain import StageResult, layer_activity, parse_schedule, run_schedule
from leanspike.spec import NetworkSpec


@dataclass
class RetrainResult:
    stages: list[StageResult]
    network: SpikingNetwork  # the last stage's model
    schedule: tuple[int, ...]
    config: dict = field(default_factory=dict)

    @property
    def final(self) -> StageResult:
        return self.stages[-1]

    def as_dict(self) -> dict:
        return {"schedule": list(self.schedule), "config": self.config,
                "stages": [s.as_dict() for s in self.stages]}


def _as_network(model, train: Dataset, first_t: int, surrogate: str, registry,
                readout: str = "membrane") -> SpikingNetwork:
    if isinstance(model, SpikingNetwork):
        net = model
    elif isinstance(model, nn.Module):
        x = train[0][0]
        net = adopt(model, tuple(x.shape), first_t, surrogate=surrogate, readout=readout)
    else:  # a spec, a registry entry or reference, a spec folder
        net = to_snntorch(model, registry=registry)
    for m in net.modules():
        if isinstance(m, SpecLeaky):
            m.surrogate = surrogate
    return net


def retrain(model: SpikingNetwork | nn.Module | NetworkSpec | str, train: Dataset,
            test: Dataset, *, schedule=(5, 4, 3, 2, 1),
            epochs_per_stage: int | list[int] = 5, lr: float = 1e-3,
            surrogate: str = "triangular", registry=None, name: str | None = None,
            parent=None, energy_model: EnergyModel | None = None, device: str = "auto",
            seed: int = 0, loss=None, progress: bool = True) -> RetrainResult:
    """Retrain ``model`` at each T of ``schedule``; returns every stage's accuracy, firing
    rates, spikes and energy, and the final network. With a ``registry`` each stage is
    registered under ``name`` as a child of the previous one (the first of ``parent``).

    Defaults follow the IIR paper (Adam with amsgrad, lr divided by 5 at 60/80/90% of each
    stage, the triangular surrogate 0.3*max(0, 1-|u/V_th - 1|)), with the learning rate
    scaled up from its 1e-4 for small datasets, and each layer's threshold stepping in
    proportion to its size (a threshold of 7 would otherwise move as slowly as one of 0.1).

    ``loss``: a ``snntorch.functional`` loss (or any ``loss(record, targets)``) to train on
    instead of cross-entropy; given your own model and a loss that reads spikes
    (``ce_rate_loss()``, ...), its output layer is kept spiking and read by its spike count.
    """
    steps = parse_schedule(schedule)
    epochs = list(epochs_per_stage) if isinstance(epochs_per_stage, (list, tuple)) \
        else [int(epochs_per_stage)] * len(steps)
    if len(epochs) != len(steps) or any(e < 0 for e in epochs):
        raise ConfigError(f"epochs_per_stage: need one non-negative count per stage "
                          f"({len(steps)}), got {epochs_per_stage!r}")
    if isinstance(parent, str) and registry is not None:
        parent = registry.get(parent)
    net = _as_network(model, train, steps[0], surrogate, registry, readout_for(loss))
    loss_fn = as_loss(loss, spiking_readout(net))
    if spiking_readout(net) and min(steps) <= 2:
        warnings.warn(f"the output is read by its spike count, and at T={min(steps)} a count "
                      f"takes only {min(steps) + 1} values per class, so ties decide many "
                      f"predictions; retraining with leanspike's integrating output layer "
                      f"(loss=None) keeps more accuracy at low T (benchmarks/adoption.py)",
                      RuntimeWarning, stacklevel=2)
    config = {"lr": lr, "surrogate": surrogate, "epochs_per_stage": epochs, "seed": seed,
              "optimizer": "adam(amsgrad)", "lr_milestones": [0.6, 0.8, 0.9],
              "threshold_lr": "relative (lr x mean |threshold| per layer)"}

    def stage(T: int) -> StageResult:
        start = time.perf_counter()
        k = steps.index(T)
        net.timesteps = T
        before = evaluate_snn(net, test, device=device)
        finetune(net, train, FinetuneConfig(epochs=epochs[k], lr=lr, seed=seed + k,
                                            device=device, amsgrad=True,
                                            lr_milestones=(0.6, 0.8, 0.9),
                                            relative_threshold_lr=True),
                 progress=progress, desc=f"retrain T={T}", loss_fn=loss_fn)
        after = evaluate_snn(net, test, device=device)
        spec = to_spec(net.cpu())
        spec.metadata["iir_stage"] = {"timesteps": T, "schedule": list(steps)}
        energy = estimate(spec, after.spikes_per_neuron, energy_model)
        return StageResult(T, before.accuracy, after.accuracy, energy.spikes_per_inference,
                           energy.synaptic_ops, energy.ratio,
                           layer_activity(after.spikes_per_neuron, T),
                           layer_activity(before.spikes_per_neuron, T), epochs[k],
                           time.perf_counter() - start, spec)

    with torch.random.fork_rng():
        stages = run_schedule(steps, stage, registry=registry, name=name, parent=parent,
                              params={"method": "iir", **config})
    return RetrainResult(stages, net, steps, config)
