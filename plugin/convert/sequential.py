"""The IIR paper's own conversion (after Rathi et al. 2020): thresholds found layer by layer on
the partly converted SNN itself.

Spikes carry amplitude 1 and weights are kept, so each layer's threshold must match the
currents that *spikes* produce in it, which depend on the thresholds before it. Layer l's
threshold is therefore the ``percentile``-th percentile (90 by default) of its input current
I[t] = W s[t] + b over all calibration samples and time steps, measured with layers 1..l-1
already converted.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.reference import simulate

MAX_VALUES = 1_000_000  # torch.quantile's input limit is 16M; a uniform subsample suffices


def _inputs(data: Dataset | DataLoader, max_samples: int) -> torch.Tensor:
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=256)
    xs, n = [], 0
    for batch in loader:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        xs.append(x)
        n += len(x)
        if n >= max_samples:
            break
    return torch.cat(xs)[:max_samples].float()


def sequential_thresholds(spec: S.NetworkSpec, data: Dataset | DataLoader, *,
                          percentile: float = 90.0, max_samples: int = 1024,
                          seed: int = 0) -> list[float]:
    """Set (in place) and return the threshold of every LIF population of ``spec`` (weighted
    layers and a graph's Adds), in order."""
    if not 0 < percentile <= 100:
        raise ConfigError(f"percentile must be in (0, 100], got {percentile}")
    x = _inputs(data, max_samples)
    gen = torch.Generator().manual_seed(seed)
    thresholds = []
    for i in spec.neuron_layers():  # weighted layers, and a graph's Adds with a neuron
        layer = spec.layers[i]
        if not isinstance(layer.neuron, S.LIF):
            continue
        currents = simulate(spec, x, record_spikes=False, record_currents=(i,),
                            stop_after=i).currents[i].flatten()
        if currents.numel() > MAX_VALUES:
            currents = currents[torch.randint(0, currents.numel(), (MAX_VALUES,), generator=gen)]
        th = float(torch.quantile(currents, percentile / 100.0))
        if not th > 0:
            th = float(currents.max())
        if not th > 0:
            raise ConfigError(f"layers[{i}]: its input current never exceeds 0 on the "
                              f"calibration data (the layers before it are silent); cannot set "
                              f"a threshold")
        layer.neuron.threshold = th
        thresholds.append(th)
    return thresholds
