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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from leanspike import spec as S


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
    kind: str  # Conv2d, Linear, or MaxPool2d (a pooling population's unit synapses)
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
        positions = shapes[i][1] * shapes[i][2] if isinstance(layer, S.Conv2d) else 1
        out.append((i, dense * positions, live * positions))
    return out


def pooling_synapses(spec: S.NetworkSpec) -> list[tuple[int, int]]:
    """(spec index, unit synapses) of every max pooling of spikes: one per window tap."""
    shapes = spec.layer_shapes()
    return [(i, math.prod(shapes[i]) * math.prod(spec.layers[i].kernel_size))
            for i in spec.spiking_layers() if isinstance(spec.layers[i], S.MaxPool2d)]


def estimate(spec: S.NetworkSpec, spikes_per_neuron: dict[int, float],
             model: EnergyModel | None = None) -> EnergyReport:
    """``spikes_per_neuron``: per spiking spec layer index (LIF layers, max pooling of spikes),
    spikes per neuron per inference."""
    model = model or EnergyModel()
    shapes = spec.layer_shapes()
    synaptic = sorted([(i, dense, live) for i, dense, live in layer_macs(spec)]
                      + [(i, 0, n) for i, n in pooling_synapses(spec)])
    layers = []
    ann = snn = synops = 0.0
    previous: int | None = None  # the weighted layer before
    feeding: int | None = None   # the spiking layer whose spikes arrive (a pool's, if known)
    for i, dense, live in synaptic:
        kind = type(spec.layers[i]).__name__
        ann += model.e_mac_pj * dense
        if previous is None:
            snn += model.e_mac_pj * live
            layers.append(LayerEnergy(i, kind, dense, live, None, live))
        else:
            zeta = float(spikes_per_neuron.get(feeding, spikes_per_neuron.get(previous, 0.0)))
            ops = zeta * live
            snn += model.e_ac_pj * ops
            synops += ops
            layers.append(LayerEnergy(i, kind, dense, live, zeta, ops))
        if isinstance(spec.layers[i], S.WEIGHTED):
            previous = i
        feeding = i
    spikes = 0.0
    for i, zeta in spikes_per_neuron.items():
        n = 1
        for d in shapes[i]:
            n *= d
        spikes += zeta * n
    return EnergyReport(model, ann, snn, synops, spikes, layers)
