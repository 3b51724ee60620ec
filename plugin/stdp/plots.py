"""Connectivity and convergence while the layers learn, as a figure file."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never opens a window
import matplotlib.pyplot as plt  # noqa: E402


def learning_curves(results, path: str | Path, *, title: str = "") -> Path:
    """One panel per conv layer: fraction of weights alive and the convergence measure
    mean(w(1-w)) against training samples, for each ``STDPResult`` (pruned or not)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(results[0].learning.layers)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.5), squeeze=False)
    for ax, k in zip(axes[0], range(n)):
        ax2 = ax.twinx()
        for j, r in enumerate(results):
            rep = r.learning.layers[k]
            label = "pruned" if r.pruned else "not pruned"
            xs = [h["sample"] for h in rep.history]
            ax.plot(xs, [h["alive"] / rep.total for h in rep.history], "-", color=f"C{j}",
                    label=f"alive, {label}")
            ax2.plot(xs, [h["convergence"] for h in rep.history], "--", color=f"C{j}",
                     alpha=0.7, label=f"C, {label}")
        ax.set_xlabel("training samples")
        ax.set_ylabel("fraction of weights alive")
        ax2.set_ylabel("convergence C = mean w(1-w)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"layers[{results[0].learning.layers[k].layer}]")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
