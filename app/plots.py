"""Figures the CLI writes into run folders (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never opens a window
import matplotlib.pyplot as plt  # noqa: E402


def accuracy_energy_vs_timesteps(rows: list[dict], path: str | Path, *, title: str = "",
                                 ann_accuracy: float | None = None) -> Path:
    """rows: dicts with 'timesteps', 'accuracy', 'energy_ratio' (one line per 'label' if given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax2 = ax.twinx()
    labels = sorted({r.get("label", "") for r in rows})
    for k, label in enumerate(labels):
        pts = sorted((r for r in rows if r.get("label", "") == label),
                     key=lambda r: r["timesteps"])
        ts = [r["timesteps"] for r in pts]
        ax.plot(ts, [r["accuracy"] for r in pts], "o-", color=f"C{2 * k}",
                label=f"accuracy {label}".strip())
        ax2.plot(ts, [r["energy_ratio"] for r in pts], "s--", alpha=0.6, color=f"C{2 * k + 1}",
                 label=f"energy ANN/SNN {label}".strip())
    if ann_accuracy is not None:
        ax.axhline(ann_accuracy, color="grey", lw=0.8, ls=":", label="ANN accuracy")
    ax.set_xlabel("time steps T")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("test accuracy")
    ax2.set_ylabel("compute energy, ANN / SNN (x)")
    ax.invert_xaxis()  # the schedule runs from long to short
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="lower left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def accuracy_vs_sparsity(rows: list[dict], path: str | Path, *, title: str = "",
                         dense_accuracy: float | None = None) -> Path:
    """rows: dicts with 'label' (e.g. the method), 'sparsity', 'accuracy'."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, label in enumerate(sorted({r.get("label", "") for r in rows})):
        pts = sorted((r for r in rows if r.get("label", "") == label),
                     key=lambda r: r["sparsity"])
        ax.plot([100 * r["sparsity"] for r in pts], [r["accuracy"] for r in pts], "o-",
                color=f"C{k}", label=label or None)
    if dense_accuracy is not None:
        ax.axhline(dense_accuracy, color="grey", lw=0.8, ls=":", label="dense")
    ax.set_xlabel("sparsity (% of synapses removed)")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def connectivity_per_layer(rows: list[dict], path: str | Path, *, title: str = "") -> Path:
    """rows: dicts with 'layer', 'total' and 'alive' synapses (one bar per weighted layer)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    names = [r["layer"] for r in rows]
    share = [100 * r["alive"] / r["total"] if r["total"] else 100.0 for r in rows]
    bars = ax.bar(names, share, color="C0")
    for bar, r in zip(bars, rows):
        ax.annotate(f"{r['alive']:,}/{r['total']:,}", (bar.get_x() + bar.get_width() / 2,
                                                      bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("live synapses (% of the layer's)")
    ax.set_xlabel("weighted layer")
    ax.set_ylim(0, max(share + [1.0]) * 1.25)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def spike_raster(spikes: dict[str, object], path: str | Path, *, title: str = "") -> Path:
    """spikes: layer name -> 0/1 array [T, neurons] for one sample; one panel per layer, time
    across, neurons down, a mark per spike."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(spikes), figsize=(2.6 * len(spikes), 4), squeeze=False)
    for ax, (name, s) in zip(axes[0], spikes.items()):
        s = np.asarray(s)
        # one column per time step, one row per neuron: black where it spiked
        ax.imshow(s.T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
                  extent=(0.5, s.shape[0] + 0.5, s.shape[1] - 0.5, -0.5))
        ax.set_xticks(range(1, s.shape[0] + 1))
        ax.set_xlabel("time step")
        ax.set_title(f"{name}\n{int(s.sum())} spikes / {s.shape[1]} neurons", fontsize=8)
    axes[0][0].set_ylabel("neuron")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path



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
