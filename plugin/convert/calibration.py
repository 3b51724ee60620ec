"""Pre-activation statistics of a trained ANN: what the converters choose thresholds from."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from leanspike.convert.chain import LayerChain


@dataclass
class LayerStats:
    """Per hidden layer: the exact maximum and a uniform random sample of pre-activations."""

    name: str
    maximum: float
    sample: torch.Tensor  # 1-D, float32

    def percentile(self, q: float) -> float:
        return float(torch.quantile(self.sample, q / 100.0))


def collect_stats(chain: LayerChain, data: Dataset | DataLoader, *, max_batches: int | None = None,
                  sample_size: int = 200_000, device: str | torch.device = "cpu",
                  seed: int = 0) -> list[LayerStats]:
    """Run the ANN over ``data`` and record, for each hidden layer, the pre-activations its
    neurons will receive: the weighted layer's output (the activation's input, or the input of
    the max pooling written between them)."""
    return record_stats(chain.model, [(s.activation_name, s.layer) for s in chain.stages[:-1]],
                        data, max_batches=max_batches, sample_size=sample_size, device=device,
                        seed=seed)


@torch.no_grad()
def record_stats(model: nn.Module, probes: list[tuple[str, nn.Module]],
                 data: Dataset | DataLoader, *, max_batches: int | None = None,
                 sample_size: int = 200_000, device: str | torch.device = "cpu",
                 seed: int = 0) -> list[LayerStats]:
    """Run ``model`` over ``data`` and record, per ``(name, module)`` probe, the maximum and a
    uniform sample of that module's output (the pre-activations of one neuron population)."""
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=256)
    gen = torch.Generator().manual_seed(seed)
    maxima = [float("-inf")] * len(probes)
    chunks: list[list[torch.Tensor]] = [[] for _ in probes]
    seen = [0] * len(probes)

    def hook(i):
        def record(_module, _inputs, output):
            x = output.detach().flatten().float().cpu()
            maxima[i] = max(maxima[i], float(x.max()))
            seen[i] += x.numel()
            keep = min(x.numel(), sample_size)
            idx = torch.randint(0, x.numel(), (keep,), generator=gen)
            chunks[i].append(x[idx])
        return record

    handles = [m.register_forward_hook(hook(i)) for i, (_, m) in enumerate(probes)]
    model = model.to(device).eval()
    try:
        for b, batch in enumerate(loader):
            if max_batches is not None and b >= max_batches:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x.to(device))
    finally:
        for h in handles:
            h.remove()
    stats = []
    for i, (name, _) in enumerate(probes):
        pool = torch.cat(chunks[i])
        if pool.numel() > sample_size:  # each batch kept up to sample_size: thin evenly
            pool = pool[torch.randperm(pool.numel(), generator=gen)[:sample_size]]
        stats.append(LayerStats(name, maxima[i], pool))
    return stats
