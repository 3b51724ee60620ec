"""DNN-to-SNN conversion: a trained ANN becomes a network spec of IF neurons at T steps.

    spec, report = leanspike.convert.convert(model, splits.train, method="datta", timesteps=2)

The result is framework-neutral; ``leanspike.adapters.snntorch.to_snntorch(spec)`` makes it an
snnTorch model (and ``leanspike.adapters.snntorch.convert`` does both and fine-tunes). See
``methods`` for exactly what each converter chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from leanspike import spec as S
from leanspike.convert.calibration import LayerStats, collect_stats
from leanspike.convert.chain import LayerChain, read_chain, shape_layer, spec_conv
from leanspike.convert.methods import METHODS, LayerChoice, choose, if_spike_counts
from leanspike.convert.residual import (
    build_graph_spec,
    collect_graph_stats,
    has_branches,
    read_graph,
)
from leanspike.convert.sequential import sequential_thresholds
from leanspike.errors import ConfigError

__all__ = ["METHODS", "ConversionReport", "LayerChoice", "collect_graph_stats", "convert",
           "if_spike_counts", "read_chain", "read_graph"]


@dataclass
class ConversionReport:
    method: str
    timesteps: int
    layers: list[LayerChoice] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"method": self.method, "timesteps": self.timesteps,
                "layers": [c.as_dict() for c in self.layers]}


def _post_layers(items) -> list[S.Layer]:
    return [shape_layer(m, f"cannot convert layer {name!r}") for name, m in items]


def _weighted(layer: nn.Module, neuron) -> S.Layer:
    w = layer.weight.detach().cpu().float().clone()
    b = None if layer.bias is None else layer.bias.detach().cpu().float().clone()
    if isinstance(layer, nn.Linear):
        return S.Linear(w, b, None, neuron)
    return spec_conv(layer, w, b, None, neuron)


def build_spec(chain: LayerChain, choices: list[LayerChoice], input_shape: tuple[int, ...],
               timesteps: int, metadata: dict | None = None) -> S.NetworkSpec:
    layers: list[S.Layer] = _post_layers(chain.before)
    for stage, choice in zip(chain.stages[:-1], choices, strict=True):
        neuron = S.LIF(threshold=choice.threshold, leak=1.0, reset="subtract",
                       amplitude=choice.amplitude, v_init=choice.v_init)
        layers.append(_weighted(stage.layer, neuron))
        layers.extend(_post_layers(stage.after))
    layers.append(_weighted(chain.stages[-1].layer, S.Integrator(leak=1.0, v_init=0.0)))
    return S.NetworkSpec(tuple(int(d) for d in input_shape), layers, timesteps,
                         metadata=dict(metadata or {})).validate()


def _choose_and_build(names: list[str], activations: list, build, collect, calibration,
                      method: str, timesteps: int, stats: list[LayerStats] | None,
                      iir_percentile: float) -> tuple[S.NetworkSpec, ConversionReport]:
    """Each hidden population's choice by ``method`` and the spec ``build(choices)`` makes of
    them: chains and residual graphs alike (``collect()`` gives the statistics when ``stats``
    is None; iir sets thresholds on the built spec instead)."""
    if method == "iir":
        placeholders = [LayerChoice(n, method, 1.0, 1.0, 1.0, 0.0, None, None, None)
                        for n in names]
        spec = build(placeholders)
        thresholds = sequential_thresholds(spec, calibration, percentile=iir_percentile)
        choices = [LayerChoice(n, method, th, th, 1.0, 0.0, None, None, None)
                   for n, th in zip(names, thresholds, strict=True)]
        return spec, ConversionReport(method, timesteps, choices)
    if stats is None:
        stats = collect()
    choices = [choose(method, a, st, timesteps)
               for a, st in zip(activations, stats, strict=True)]
    return build(choices), ConversionReport(method, timesteps, choices)


def convert(model: nn.Module, calibration: Dataset | DataLoader, *, method: str = "datta",
            timesteps: int = 2, max_batches: int | None = None,
            stats: list[LayerStats] | None = None, iir_percentile: float = 90.0,
            device: str | torch.device = "cpu") -> tuple[S.NetworkSpec, ConversionReport]:
    """Convert a trained ANN (an nn.Sequential; batch norm is folded) into a network spec.

    A residual ANN (one whose forward adds branches, such as the zoo's ``resnet20``) becomes a
    graph spec of the converted-ResNet kind (``leanspike.convert.residual``): each activation,
    the one after a residual sum too, a LIF population with its own calibrated threshold.

    ``calibration`` (usually the training set) supplies the pre-activation statistics; pass
    ``stats`` from ``collect_stats`` (a residual ANN: ``collect_graph_stats``) to reuse them
    across methods and time steps.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown conversion method {method!r}; choose from {METHODS}")
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise ConfigError(f"timesteps must be a positive integer, got {timesteps!r}")
    residual = has_branches(model)
    chain = None if residual else read_chain(model)
    loader = calibration if isinstance(calibration, DataLoader) else DataLoader(calibration,
                                                                                 batch_size=1)
    first = next(iter(loader))
    input_shape = tuple((first[0] if isinstance(first, (tuple, list)) else first).shape[1:])
    meta = {"converted_with": method}
    builder = getattr(model, "leanspike_config", None)
    if builder is not None:
        meta["ann_builder"] = builder
    if chain is None:  # a residual ANN: the same per-population choices, on a graph spec
        graph = read_graph(model, input_shape)
        nodes = [graph.nodes[i] for i in graph.hidden()]
        names, activations = [n.activation_name for n in nodes], [n.activation for n in nodes]

        def build(choices):
            return build_graph_spec(graph, choices, input_shape, timesteps, meta)

        def collect():
            return collect_graph_stats(graph, calibration, max_batches=max_batches,
                                       device=device)
    else:
        names = [st.activation_name for st in chain.stages[:-1]]
        activations = [st.activation for st in chain.stages[:-1]]

        def build(choices):
            return build_spec(chain, choices, input_shape, timesteps, meta)

        def collect():
            return collect_stats(chain, calibration, max_batches=max_batches, device=device)
    return _choose_and_build(names, activations, build, collect, calibration, method,
                             timesteps, stats, iir_percentile)
    if stats is None:
        stats = collect_stats(chain, calibration, max_batches=max_batches, device=device)
    choices = [choose(method, s.activation, st, timesteps)
               for s, st in zip(chain.stages[:-1], stats, strict=True)]
    spec = build_spec(chain, choices, input_shape, timesteps, meta)
    return spec, ConversionReport(method, timesteps, choices)
