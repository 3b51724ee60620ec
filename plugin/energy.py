"""Compute-energy estimates of an SNN against the same-architecture ANN.

The convention of the papers leanspike implements (Datta & Beerel; Chowdhury et al.):

    E_ANN = E_MAC * sum_l F_l
    E_SNN = E_MAC * F_1 + E_AC * sum_{l>=2} zeta_{l-1} * F_l

F_l is layer l's multiply-accumulate count (conv: live weights x output positions, dense: live
weights; the ANN counts every weight), zeta_{l-1} the spikes per neuron per inference (summed
over T) of the spiking layer that feeds layer l, and the first layer stays a MAC layer because
the analog input is encoded directly. Constants are per operation, in picojoules.

Max pooling of spikes is a layer of its own on Loihi: a pooling population, one neuron per
window, fed by unit synapses from the window (``leanspike.loihi.stages``). Those synapses are
counted like any others, F = C * kh * kw * H_out * W_out accumulates at the pool's input spike
rate, because the deployment really adds them; the ANN's max is a comparison and counts no MAC.
The layer after the pool is fed at the pool's own spike rate (its OR), when the rates give it
(every spike record of leanspike does); otherwise at the rate of the weighted layer before, as
after average pooling. Max pooling of analog values (the input) adds nothing.

That estimate is a rate model. ``count_operations`` counts instead what the deployed stages
(``leanspike.loihi.stages``: binary spikes, amplitudes and pooling folded into the synapses) do
on given inputs, event by event, which is NeuroBench's ``SynapticOperations`` on the same stages
(``leanspike.adapters.neurobench``):

- MACs: the first stage receives the analog input as graded spikes on every step, so each
  non-zero input value costs one MAC per live synapse it reaches, per step (a padding tap
  reaches no synapse);
- ACs: every spike of a later stage's input costs one AC per live synapse it reaches (a pooled
  and folded layer gives each spike all the synapses the fold spreads it over; a pooling
  population's unit synapses count too).

The two agree on a layer's ACs when every input neuron has the same live fan-out, F_l / N_{l-1}
(an unpruned Linear layer fed the spikes directly, or after Flatten); otherwise the estimate
takes the mean rate where the count weighs each neuron's spikes by its own fan-out (pruned
layers, padded borders). After s x s average pooling the estimate feeds the layer the pooled
map, at the rate of the spikes before the pool, while the stages deliver each of those s*s
times more spikes through the folded synapses: about s*s times the estimate (less at padded
borders, more where pruning kept the synapses of the busier neurons). For the first layer the
estimate counts F_1 once per inference whatever the input (every live weight at every output
position, padding taps included); the count is T times the live synapses that the non-zero
inputs reach (F_1 times T for a Linear first layer and an input with no zero).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.loihi.stages import to_stages


@dataclass(frozen=True)
class EnergyModel:
    name: str = "45nm FP32 (Horowitz 2014)"
    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9


PRESETS = {
    "fp32-45nm": EnergyModel(),
    "int32-45nm": EnergyModel("45nm INT32 (Horowitz 2014)", 3.2, 0.1),
}


@dataclass
class LayerEnergy:
    index: int  # spec layer index
    kind: str  # Conv2d, Conv1d, Linear, or a max pooling (a pooling population's unit synapses)
    macs_dense: int  # F_l of the same-architecture ANN (0 for max pooling: comparisons)
    macs_live: int  # F_l counting only unpruned synapses
    input_spikes_per_neuron: float | None  # zeta_{l-1}; None for the first (MAC) layer
    synaptic_ops: float  # zeta_{l-1} * F_l (live), or F_l for the first layer


@dataclass
class EnergyReport:
    model: EnergyModel
    ann_pj: float
    snn_pj: float
    synaptic_ops: float  # accumulate operations of layers 2..L per inference
    spikes_per_inference: float
    layers: list[LayerEnergy] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """How many times less compute energy the SNN needs than the ANN."""
        return self.ann_pj / self.snn_pj if self.snn_pj > 0 else float("inf")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def layer_macs(spec: S.NetworkSpec) -> list[tuple[int, int, int]]:
    """(spec index, dense MACs, live MACs) per weighted layer."""
    shapes = spec.layer_shapes()
    out = []
    for i, layer in spec.weighted_layers():
        dense = layer.weight.numel()
        live = int((layer.mask != 0).sum()) if layer.mask is not None else dense
        positions = math.prod(shapes[i][1:]) if isinstance(layer, S.CONVS) else 1
        out.append((i, dense * positions, live * positions))
    return out


def pooling_synapses(spec: S.NetworkSpec) -> list[tuple[int, int]]:
    """(spec index, unit synapses) of every max pooling of spikes: one per window tap."""
    shapes = spec.layer_shapes()
    return [(i, math.prod(shapes[i]) * math.prod(spec.layers[i].kernel_size))
            for i in spec.spiking_layers() if isinstance(spec.layers[i], S.MAX_POOLS)]


def _arriving_rate(spec: S.NetworkSpec, j: int, rates: dict[int, float]) -> float | None:
    """Spikes per neuron per inference arriving from node ``j``: those of the nearest spiking
    node it comes from through pooling and flatten (a max pool without a rate of its own: the
    layer it pools), summed over the inputs of a sum of spike trains (SEW's Add); None for the
    analog input, whose synapses are MACs."""
    while j != S.INPUT:
        layer = spec.layers[j]
        if j in rates:
            return float(rates[j])
        if isinstance(layer, S.Add):
            parts = [_arriving_rate(spec, k, rates) for k in spec.inputs_of(j)]
            return None if any(p is None for p in parts) else sum(parts)
        if getattr(layer, "neuron", None) is not None:
            return 0.0  # a spiking layer that was not recorded
        j = spec.inputs_of(j)[0]
    return None


def _synapse_groups(spec: S.NetworkSpec) -> list[tuple[int, int, int, int]]:
    """(spec index, source node, dense MACs, live synapse events per spike) of every synapse
    group: weighted layers, max pools of spikes (one unit synapse per window tap), and the unit
    synapses through which an Add's neuron receives spikes (not currents) as they are."""
    shapes = spec.layer_shapes()
    out = [(i, spec.inputs_of(i)[0], dense, live) for i, dense, live in layer_macs(spec)]
    out += [(i, spec.inputs_of(i)[0], 0, n) for i, n in pooling_synapses(spec)]
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, S.Add) and layer.neuron is not None:
            for j in spec.inputs_of(i):
                if j == S.INPUT or not (isinstance(spec.layers[j], S.WEIGHTED)
                                        and spec.layers[j].neuron is None):
                    out.append((i, j, 0, math.prod(shapes[i])))
    return sorted(out)


def estimate(spec: S.NetworkSpec, spikes_per_neuron: dict[int, float],
             model: EnergyModel | None = None) -> EnergyReport:
    """``spikes_per_neuron``: per spiking spec layer index (LIF layers, max pooling of spikes),
    spikes per neuron per inference. Each synapse group's operations are the spikes per neuron
    arriving at it times its live synapses (the rate convention; ``count_operations`` counts
    events one by one on the deployed stages)."""
    model = model or EnergyModel()
    shapes = spec.layer_shapes()
    layers = []
    ann = snn = synops = 0.0
    for i, source, dense, live in _synapse_groups(spec):
        kind = type(spec.layers[i]).__name__
        ann += model.e_mac_pj * dense
        zeta = _arriving_rate(spec, source, spikes_per_neuron)
        if zeta is None:
            snn += model.e_mac_pj * live
            layers.append(LayerEnergy(i, kind, dense, live, None, live))
        else:
            ops = zeta * live
            snn += model.e_ac_pj * ops
            synops += ops
            layers.append(LayerEnergy(i, kind, dense, live, zeta, ops))
    spikes = 0.0
    for i, zeta in spikes_per_neuron.items():
        spikes += zeta * math.prod(shapes[i])
    return EnergyReport(model, ann, snn, synops, spikes, layers)


@dataclass
class StageOperations:
    layer_index: int  # the stage's spec layer (a pooling population: its MaxPool2d)
    kind: str         # "MAC" (the first stage, fed the analog input) or "AC"
    ops: float        # per inference


@dataclass
class OperationCount:
    """Synaptic operations per inference, counted event by event on the deployed stages."""

    macs: float
    acs: float
    stages: list[StageOperations] = field(default_factory=list)


def count_operations(spec: S.NetworkSpec, inputs: torch.Tensor,
                     spikes: dict[int, torch.Tensor]) -> OperationCount:
    """The synaptic operations the deployed network performs on ``inputs`` ([B, *input_shape],
    the same on every step, or [T, B, *input_shape]), given the spikes it fired on them:
    ``spikes`` per spiking spec layer, [T, B, ...] of 0/1, as ``SpikingNetwork.run``,
    ``leanspike.reference.simulate`` and ``leanspike.loihi.emulate_float`` record them.
    Averaged over the batch; the module docstring says what is counted."""
    stages = to_stages(spec)
    per_step = inputs.dim() == len(spec.input_shape) + 2
    steps = next(iter(spikes.values())).shape[0] if spikes else spec.timesteps
    if per_step and inputs.shape[0] != steps:
        raise ConfigError(f"inputs have {inputs.shape[0]} time steps, the spikes {steps}")
    live_inputs = (inputs.detach().cpu() != 0).to(torch.float64)
    feed = live_inputs.sum(0) if per_step else live_inputs * steps  # events per input value
    batch = feed.shape[0]
    out = OperationCount(0.0, 0.0)
    for k, stage in enumerate(stages):
        ops: dict[str, float] = {}  # "MAC" from the analog input, "AC" from spikes
        for group in stage.synapse_groups(k):  # a residual population has several
            if group.source == S.INPUT:
                events, kind = feed, "MAC"
            else:
                source = stages[group.source].layer_index  # a relay's spikes are its source's
                if source not in spikes:
                    raise ConfigError(f"no spikes of layers[{source}], which feeds layers"
                                      f"[{stage.layer_index}]: record every spiking layer "
                                      f"(got {sorted(spikes)})")
                events, kind = spikes[source].detach().cpu().to(torch.float64).sum(0), "AC"
            live = (group.effective_weight() != 0).to(torch.float64)
            # in the stage's own shape: a 1-D layer's (C, L) is its stage's (C, 1, L)
            ops[kind] = ops.get(kind, 0.0) + float(
                group.synapse(events.reshape(batch, *group.input_shape), live).sum()) / batch
        for kind, n in ops.items():
            out.stages.append(StageOperations(stage.layer_index, kind, n))
        out.macs += ops.get("MAC", 0.0)
        out.acs += ops.get("AC", 0.0)
    return out
