"""What a pipeline run leaves for a person: the summary table and the plots in the run folder."""

from __future__ import annotations

from pathlib import Path

import torch

from leanspike.app import plots
from leanspike.app.pipeline.run import PipelineResult, spike_raster_input
from leanspike.app.tables import format_table


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def summary_table(result: PipelineResult) -> str:
    rows = [[s.stage, _num(s.T, "d"), f"{s.accuracy:.4f}", f"{s.sparsity:.1%}",
             _num(s.spikes_per_inference, ".0f"), _num(s.synaptic_ops, ".4g"),
             _num(s.energy_ratio, ".1f") + ("x" if s.energy_ratio else ""),
             _num(s.lava_agreement, ".2%"), s.entry + (" (reused)" if s.reused else "")]
            for s in result.stages]
    return format_table(["stage", "T", "accuracy", "sparsity", "spikes/inf", "synops",
                         "energy ANN/SNN", "Lava agreement", "registry entry"], rows)


def write_plots(result: PipelineResult, out: Path) -> list[Path]:
    from leanspike.adapters.snntorch import to_snntorch

    c = result.config
    snn = [s for s in result.stages if s.T is not None and s.energy_ratio is not None]
    by_t: dict[int, dict] = {}
    for s in snn:
        if s.sparsity == 0:  # the dense stages: the accuracy/latency trade-off
            by_t[s.T] = {"timesteps": s.T, "accuracy": s.accuracy, "energy_ratio": s.energy_ratio}
    reference = next((s.accuracy for s in result.stages if s.stage.startswith("ANN (ReLU")),
                     None)
    paths = [plots.accuracy_energy_vs_timesteps(
        list(by_t.values()), out / "accuracy_energy_vs_T.png",
        title=f"{c.arch} on {c.dataset}: accuracy and energy against T",
        ann_accuracy=reference)]

    spec = result.final_spec
    rows = []
    for i, layer in spec.weighted_layers():
        total = layer.weight.numel()
        alive = total if layer.mask is None else int((layer.mask != 0).sum())
        rows.append({"layer": f"{type(layer).__name__}[{i}]", "total": total, "alive": alive})
    paths.append(plots.connectivity_per_layer(
        rows, out / "connectivity_per_layer.png",
        title=f"deployed network: {sum(r['alive'] for r in rows):,} of "
              f"{sum(r['total'] for r in rows):,} synapses live"))

    x, y = spike_raster_input(c)
    with torch.no_grad():
        run = to_snntorch(spec).eval().run(x[None], record_spikes=True)
    spikes = {f"layers[{i}]": s[:, 0].flatten(1).numpy() for i, s in run.spikes.items()}
    paths.append(plots.spike_raster(
        spikes, out / "spike_raster.png",
        title=f"test sample 0 (label {int(y)}, predicted {int(run.logits.argmax())}), "
              f"deployed network, T={spec.timesteps}"))

    dense = next((s for s in reversed(result.stages) if s.stage.startswith("retrained")), None)
    pruned = [s for s in result.stages if s.stage.startswith("pruned")] + result.sweep
    points = [{"label": c.prune.method, "sparsity": s.sparsity, "accuracy": s.accuracy}
              for s in pruned]
    paths.append(plots.accuracy_vs_sparsity(
        points, out / "accuracy_vs_sparsity.png",
        title=f"{c.prune.method} pruning at T={dense.T if dense else '?'}",
        dense_accuracy=dense.accuracy if dense else None))
    return paths
