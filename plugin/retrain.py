"""Iterative initialisation and retraining (IIR-SNN, Chowdhury, Rathi & Roy 2022): the schedule
driver.

An SNN trained at T steps initialises the one at T-1, which is retrained, and so on down to T=1.
Jumping straight to T=1 fails because spikes vanish layer by layer; this module drives the
stages, watches every layer's firing rate for exactly that, and registers each stage with its
parent. The training itself is the adapter's (``leanspike.adapters.snntorch.retraining``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from leanspike.errors import ConfigError
from leanspike.registry.stages import check_stage_name, register_stage
from leanspike.spec import NetworkSpec

SILENT_RATE = 1e-3  # spikes per neuron per step below which a layer counts as silent


class SpikeVanishingWarning(RuntimeWarning):
    """A layer (almost) stopped firing: the layers after it receive no input."""


def parse_schedule(schedule: str | Sequence[int]) -> tuple[int, ...]:
    """Validate a schedule such as "5,4,3,2,1": non-empty, positive, strictly decreasing."""
    if isinstance(schedule, str):
        try:
            steps = tuple(int(s) for s in schedule.split(",") if s.strip())
        except ValueError:
            raise ConfigError(f"schedule {schedule!r}: expected comma-separated integers such "
                              f"as 5,4,3,2,1") from None
    else:
        steps = tuple(schedule)
    if not steps:
        raise ConfigError("schedule is empty: give the time steps of each stage, e.g. 5,4,3,2,1")
    if any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in steps):
        raise ConfigError(f"schedule {list(steps)}: every stage needs a positive integer number "
                          f"of time steps")
    if any(b >= a for a, b in zip(steps, steps[1:])):
        raise ConfigError(f"schedule {list(steps)}: time steps must strictly decrease from stage "
                          f"to stage (each stage initialises the next, shorter one)")
    return steps


@dataclass
class LayerActivity:
    layer: int  # spec layer index
    rate: float  # spikes per neuron per time step
    silent: bool


def layer_activity(spikes_per_neuron: dict[int, float], timesteps: int) -> list[LayerActivity]:
    """Firing rate of every spiking layer from spikes per neuron per inference."""
    return [LayerActivity(i, s / timesteps, s / timesteps < SILENT_RATE)
            for i, s in sorted(spikes_per_neuron.items())]


def warn_if_silent(activity: list[LayerActivity], where: str) -> list[int]:
    silent = [a.layer for a in activity if a.silent]
    if silent:
        rates = ", ".join(f"layer {a.layer}: {a.rate:.2g}" for a in activity)
        warnings.warn(f"{where}: spike vanishing, layer(s) {silent} fire less than "
                      f"{SILENT_RATE} spikes per neuron per step ({rates}); the layers after "
                      f"them get no input. A gentler schedule (one step at a time) avoids this.",
                      SpikeVanishingWarning, stacklevel=3)
    return silent


@dataclass
class StageResult:
    """One stage of the schedule, measured on the test data."""

    timesteps: int
    initial_accuracy: float  # the previous stage's weights run at this T, before retraining
    accuracy: float
    spikes_per_inference: float
    synaptic_ops: float
    energy_ratio: float
    activity: list[LayerActivity]
    initial_activity: list[LayerActivity]
    epochs: int
    seconds: float
    spec: NetworkSpec = field(repr=False)
    entry_ref: str | None = None  # registry entry, when registered

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("spec")
        return d


def run_schedule(schedule: Sequence[int],
                 stage: Callable[[int], StageResult], *,
                 registry=None, name: str | None = None, parent=None,
                 params: dict | None = None) -> list[StageResult]:
    """Run ``stage(T)`` for each T of the schedule, checking firing and registering each result
    as a child of the previous one (the first as a child of ``parent``)."""
    steps = parse_schedule(schedule)
    check_stage_name(registry, name, "retrained")
    results = []
    for T in steps:
        result = stage(T)
        warn_if_silent(result.initial_activity, f"T={T}, initialised from the previous stage")
        warn_if_silent(result.activity, f"T={T}, after retraining")
        if registry is not None:
            entry = register_stage(
                registry, name, result.spec, stage="retrained", parent=parent,
                metrics={"accuracy": result.accuracy,
                         "initial_accuracy": result.initial_accuracy,
                         "spikes_per_inference": result.spikes_per_inference,
                         "synaptic_ops": result.synaptic_ops,
                         "energy_ratio": result.energy_ratio,
                         "firing_rates": {str(a.layer): a.rate for a in result.activity}},
                params={**(params or {}), "timesteps": T, "schedule": list(steps),
                        "epochs": result.epochs})
            result.entry_ref = entry.ref
            parent = entry
        results.append(result)
    return results
