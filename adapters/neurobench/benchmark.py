"""NeuroBench's own metrics on a leanspike network, as a referee of leanspike's figures.

The workload metrics run on ``binary_network``, the network's deployed stages, so that
NeuroBench sees binary spikes into every layer after the first, as the hardware does. The
static ones describe the network as trained and stored: its snnTorch layers, masks baked into
the weights (the stages would weigh a layer after pooling more: folding an s x s average pool
repeats each synapse s*s times; pooling populations add unit synapses). NeuroBench prints a
workload metric that raises and scores it 0 (a pruned layer that could not be copied gave
SynapticOperations 0); here such a failure is an error naming the metric.

A residual network is refereed the same way: its workload metrics on its ``BinaryGraph`` (one
module per synapse group, relays included, so SynapticOperations is ``count_operations``' count;
ActivationSparsity over the spec's populations, relays being none), its static ones on its
snnTorch graph as trained (an Add holds no parameters: the shortcut's unit synapses and the
relays of the stages are not in them).
"""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import snntorch as snn
import torch
from torch.utils.data import DataLoader, Dataset

from leanspike import spec as S
from leanspike.adapters.neurobench.binary import binary_network
from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch
from leanspike.registry.sources import resolve_spec

try:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        SynapticOperations,
    )
    from neurobench.models import NeuroBenchModel
except ImportError as exc:  # the extra is optional outside the project's own environment
    raise ImportError(f"leanspike.adapters.neurobench.benchmark needs NeuroBench: pip install "
                      f"'leanspike[neurobench]' ({exc})") from exc

STATIC_METRICS = (Footprint, ConnectionSparsity)
WORKLOAD_METRICS = (ClassificationAccuracy, ActivationSparsity, SynapticOperations)
_FAILED = re.compile(r"Error running workload metric '([^']+)': (.*)")


class NeuroBenchNetwork(NeuroBenchModel):
    """A SpikingNetwork for NeuroBench: batches of [B, *input_shape] in, logits out, and its
    snnTorch neurons hooked as activation layers."""

    def __init__(self, net: SpikingNetwork):
        super().__init__()
        self.net = net.eval()
        self.add_activation_module(snn.SpikingNeuron)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(batch)

    def __net__(self) -> SpikingNetwork:
        return self.net


def predicted_class(logits: torch.Tensor) -> torch.Tensor:
    """NeuroBench's accuracy compares predictions with labels: the arg max of the logits."""
    return logits.argmax(-1)


def as_trained(spec: S.NetworkSpec) -> SpikingNetwork:
    """The spec's snnTorch network with every mask multiplied into its weights: pruned
    synapses are zero weights, as NeuroBench's ConnectionSparsity counts them."""
    spec = spec.copy()
    for _, layer in spec.weighted_layers():
        if layer.mask is not None:
            layer.weight, layer.mask = layer.weight * layer.mask.to(layer.weight.dtype), None
    return to_snntorch(spec)


def referee(source, data: Dataset, *, registry=None, batch_size: int = 256) -> dict:
    """NeuroBench's results for ``source`` (a network spec, registry entry or reference such
    as ``"digits@pruned"`` in ``registry``) on ``data``: Footprint (bytes of parameters and
    buffers) and ConnectionSparsity of the network as trained; ClassificationAccuracy,
    ActivationSparsity and SynapticOperations (Effective_MACs, Effective_ACs and Dense, per
    sample) of its deployed stages."""
    spec = resolve_spec(source, registry)
    trained = NeuroBenchNetwork(as_trained(spec))
    results = {metric.__name__: metric()(trained) for metric in STATIC_METRICS}
    model = NeuroBenchNetwork(binary_network(spec))
    bench = Benchmark(model, DataLoader(data, batch_size=batch_size), [], [predicted_class],
                      [[], list(WORKLOAD_METRICS)])
    log = io.StringIO()
    with redirect_stdout(log), redirect_stderr(log):
        results.update(bench.run(quiet=False))
    model.cleanup_hooks()
    failed = _FAILED.search(log.getvalue())
    if failed:
        where = source if isinstance(source, str) else getattr(source, "ref",
                                                                  type(source).__name__)
        raise RuntimeError(f"NeuroBench's {failed.group(1)} failed on {where}: "
                           f"{failed.group(2)}")
    return results
