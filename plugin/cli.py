"""The ``leanspike`` command line: one subcommand per stage of the flow."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from leanspike._version import __version__
from leanspike.errors import LeanspikeError


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _key_values(pairs: Sequence[str], flag: str) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LeanspikeError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key] = _parse_value(value)
    return out


def cmd_zoo_list(args: argparse.Namespace) -> int:
    from leanspike.tables import format_table
    from leanspike.zoo import list_models, model_entry

    rows = []
    for name in list_models():
        e = model_entry(name)
        rows.append([name, "x".join(map(str, e.default_input_shape)),
                     "yes" if e.convertible else "no (residual)", e.description])
    print(format_table(["model", "input", "spec-convertible", "description"], rows))
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from collections import Counter

    from leanspike.data import dataset_info, load_dataset
    from leanspike.tables import format_table

    info = dataset_info(args.name)
    rows = [["name", info.name], ["source", info.source], ["classes", info.num_classes],
            ["input shape", "x".join(map(str, info.input_shape))]]
    if info.needs_data_dir:
        rows.append(["data directory", info.layout])
    if info.needs_data_dir and args.data_dir is None:
        rows.append(["samples", "pass --data-dir to count them"])
    else:
        splits = load_dataset(args.name, args.data_dir)
        rows += [["train samples", len(splits.train)], ["test samples", len(splits.test)]]
        if args.name == "digits":
            counts = Counter(int(y) for _, y in splits.test)
            rows.append(["test per class", " ".join(f"{k}:{counts[k]}" for k in sorted(counts))])
            rows.append(["normalisation", f"mean {splits.info.mean[0]:.4f}, "
                                          f"std {splits.info.std[0]:.4f} (train set)"])
    print(format_table(["field", "value"], rows))
    return 0


def cmd_train_ann(args: argparse.Namespace) -> int:
    from leanspike.data import load_dataset
    from leanspike.training import PRESETS, resolve_device, set_seed, train_ann
    from leanspike.zoo import create_model, save_model

    splits = load_dataset(args.dataset, args.data_dir, download=args.download, seed=args.seed,
                          augment=args.augment)
    kwargs = {"num_classes": splits.info.num_classes,
              "input_shape": list(splits.info.input_shape),
              "activation": args.activation,
              "batch_norm": args.batch_norm}
    if args.activation_arg:
        kwargs["activation_args"] = _key_values(args.activation_arg, "--activation-arg")
    kwargs.update(_key_values(args.model_arg or [], "--model-arg"))
    set_seed(args.seed)  # the initial weights are part of what the seed fixes
    model = create_model(args.arch, **kwargs)
    if args.preset == "auto":
        args.preset = {"clip": "datta2022", "qcfs": "qcfs2022"}.get(args.activation, "default")
    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "optimizer", "lr")
                 if getattr(args, k) is not None}
    config = dataclasses.replace(PRESETS[args.preset], seed=args.seed, device=args.device,
                                 **overrides)
    device = resolve_device(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {args.arch} ({n_params:,} parameters, activation {args.activation}) on "
          f"{args.dataset} ({len(splits.train)} train / {len(splits.test)} test) for "
          f"{config.epochs} epochs on {device} ({args.preset} optimiser settings: "
          f"{config.optimizer}, lr {config.lr})")
    result = train_ann(model, splits, config, progress=not args.no_progress)
    print(f"test accuracy: {result.test_accuracy:.4f}  ({args.arch} on {args.dataset}, "
          f"{result.seconds:.1f} s)")
    meta = {"dataset": args.dataset, "test_accuracy": result.test_accuracy,
            "train_seconds": result.seconds, "train_config": result.config,
            "leanspike_version": __version__}
    if args.out:
        path = save_model(model.cpu(), args.out, metadata=meta)
        print(f"saved to {path}")
    if args.register:
        entry = _registry(args).register(
            args.register, model.cpu(), stage="ann",
            metrics={"accuracy": result.test_accuracy, "train_seconds": result.seconds},
            params={"dataset": args.dataset, "arch": args.arch, "model": kwargs,
                    "train_config": result.config, "leanspike_version": __version__})
        print(f"registered as {entry.ref} in {entry.registry.path}")
    return 0


def _load_ann(args: argparse.Namespace):
    """(model, parent entry or None, dataset name) from a saved-model folder or a registry ref."""
    from pathlib import Path

    from leanspike.zoo import load_model
    from leanspike.zoo.checkpoint import MODEL_FILE

    if Path(args.ann).is_dir() and (Path(args.ann) / MODEL_FILE).is_file():
        model, meta = load_model(args.ann)
        return model, None, args.dataset or meta.get("dataset") or "digits"
    reg = _registry(args)
    entry = reg.get(args.ann)
    if entry.kind != "ann":
        raise LeanspikeError(f"{entry.ref} is an SNN (stage {entry.stage!r}); --ann needs an "
                             f"ANN entry or a saved-model folder")
    return reg.load(entry), entry, args.dataset or entry.params.get("dataset") or "digits"


def cmd_convert(args: argparse.Namespace) -> int:
    from leanspike.adapters.snntorch import FinetuneConfig, convert
    from leanspike.data import load_dataset
    from leanspike.energy import PRESETS
    from leanspike.tables import format_table
    from leanspike.training import evaluate, set_seed

    model, parent, dataset = _load_ann(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    set_seed(args.seed)
    ann_accuracy = evaluate(model, splits.test)
    if args.finetune_epochs is None:  # fine-tuning is the last step of Datta & Beerel's method
        args.finetune_epochs = 10 if args.method == "datta" else 0
    config = FinetuneConfig(epochs=args.finetune_epochs, lr=args.lr, seed=args.seed,
                            device=args.device)
    outcome = convert(model, splits, method=args.method, timesteps=args.timesteps,
                      finetune_epochs=config, surrogate=args.surrogate,
                      energy_model=PRESETS[args.energy], device=args.device,
                      progress=not args.no_progress)
    rows = [[c.name, f"{c.clip:.4g}", f"{c.threshold:.4g}", f"{c.amplitude:.4g}",
             f"{c.v_init:.4g}", "-" if c.expected_mse is None else f"{c.expected_mse:.3g}"]
            for c in outcome.report.layers]
    print(format_table(["layer", "clip", "threshold", "amplitude", "v_init", "expected mse"],
                       rows))
    e = outcome.energy
    summary = [["ANN accuracy", f"{ann_accuracy:.4f}"],
               [f"SNN accuracy, T={args.timesteps}, converted",
                f"{outcome.converted_accuracy:.4f}"]]
    if args.finetune_epochs:
        summary.append([f"SNN accuracy after {args.finetune_epochs} fine-tuning epochs",
                        f"{outcome.accuracy:.4f}"])
    summary += [["spikes per inference", f"{e.spikes_per_inference:.1f}"],
                ["synaptic ops per inference", f"{e.synaptic_ops:.4g}"],
                ["energy ANN / SNN", f"{e.ratio:.1f}x ({e.model.name}: MAC {e.model.e_mac_pj} pJ, "
                                     f"AC {e.model.e_ac_pj} pJ)"]]
    print(format_table([f"{args.method} conversion", "value"], summary))
    if args.out:
        print(f"spec written to {outcome.spec.save(args.out)}")
    if parent is not None or args.register:
        reg = parent.registry if parent is not None else _registry(args)
        entry = reg.register(
            args.register or parent.name, outcome.spec, stage="snn", parent=parent,
            metrics={**outcome.metrics(), "ann_accuracy": ann_accuracy},
            params={"dataset": dataset, "method": args.method, "timesteps": args.timesteps,
                    "finetune": outcome.finetune.config if outcome.finetune else None,
                    "surrogate": args.surrogate,
                    "layers": [c.as_dict() for c in outcome.report.layers]})
        print(f"registered as {entry.ref} (parent {entry.parent or '-'}) in {reg.path}")
    return 0


def _dataset_of(reg, entry) -> str | None:
    for e in reg.lineage(entry):
        if isinstance(e.params.get("dataset"), str):
            return e.params["dataset"]
    return None


def cmd_retrain(args: argparse.Namespace) -> int:
    import datetime as dt
    import warnings
    from pathlib import Path

    from leanspike.adapters.snntorch.retraining import retrain
    from leanspike.convert import convert
    from leanspike.data import load_dataset
    from leanspike.plots import accuracy_energy_vs_timesteps
    from leanspike.retrain import SpikeVanishingWarning, parse_schedule
    from leanspike.spec import SPEC_FILE, load_spec
    from leanspike.tables import format_table

    schedule = parse_schedule(args.schedule)
    reg = parent = None
    if (args.snn is None) == (args.ann is None):
        raise LeanspikeError("give exactly one of --snn REF (an SNN to retrain) or --ann REF "
                             "(an ANN to convert with the IIR paper's method first)")
    if args.ann is not None:
        model, parent, dataset = _load_ann(args)
        reg = parent.registry if parent is not None else None
        name = args.name or (parent.name if parent else "model")
    elif Path(args.snn).is_dir() and (Path(args.snn) / SPEC_FILE).is_file():
        source, dataset, name = load_spec(args.snn), args.dataset or "digits", args.name
    else:
        reg = _registry(args)
        parent = reg.get(args.snn)
        source = parent
        dataset = args.dataset or _dataset_of(reg, parent) or "digits"
        name = args.name or parent.name
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    if args.ann is not None:
        source, report = convert(model, splits.train, method="iir", timesteps=schedule[0])
        print(f"converted {args.ann} with the IIR paper's method at T={schedule[0]}: thresholds "
              + ", ".join(f"{c.threshold:.3g}" for c in report.layers))
        if reg is not None:
            parent = reg.register(name, source, stage="snn", parent=parent,
                                  params={"dataset": dataset, "method": "iir",
                                          "timesteps": schedule[0]})
    if reg is None and args.registry:
        reg = _registry(args)
    out = Path(args.out or f"runs/retrain-{name or 'snn'}-"
               f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpikeVanishingWarning)
        result = retrain(source, splits.train, splits.test, schedule=schedule,
                         epochs_per_stage=args.epochs_per_stage, lr=args.lr,
                         surrogate=args.surrogate, registry=reg if name else None, name=name,
                         parent=parent, device=args.device, seed=args.seed,
                         progress=not args.no_progress)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    rows = [[s.timesteps, f"{s.initial_accuracy:.4f}", f"{s.accuracy:.4f}",
             f"{s.spikes_per_inference:.1f}", f"{s.synaptic_ops:.4g}", f"{s.energy_ratio:.1f}x",
             " ".join(f"{a.rate:.3f}" for a in s.activity),
             s.entry_ref or "-"] for s in result.stages]
    print(format_table(["T", "initialised", "retrained", "spikes/inf", "synops", "energy ANN/SNN",
                        "firing rate per layer", "entry"], rows))
    out.mkdir(parents=True, exist_ok=True)
    result.final.spec.save(out / "final_spec")
    (out / "summary.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    plot = accuracy_energy_vs_timesteps(
        [{"timesteps": s.timesteps, "accuracy": s.accuracy, "energy_ratio": s.energy_ratio}
         for s in result.stages], out / "accuracy_energy_vs_T.png",
        title=f"IIR retraining on {dataset}")
    print(f"run folder {out}: summary.json, final_spec/, {plot.name}")
    return 0


def _load_snn(args: argparse.Namespace):
    """(source for the adapters, registry or None, parent entry or None, dataset, name)."""
    from pathlib import Path

    from leanspike.spec import SPEC_FILE, load_spec

    if Path(args.snn).is_dir() and (Path(args.snn) / SPEC_FILE).is_file():
        reg = _registry(args) if args.registry else None
        return load_spec(args.snn), reg, None, args.dataset or "digits", args.name
    reg = _registry(args)
    entry = reg.get(args.snn)
    if entry.kind != "snn":
        raise LeanspikeError(f"{entry.ref} is an ANN; convert it first (leanspike convert)")
    dataset = args.dataset or _dataset_of(reg, entry) or "digits"
    return entry, reg, entry, dataset, args.name or entry.name


def cmd_prune(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from leanspike.adapters.snntorch import prune, to_snntorch
    from leanspike.data import load_dataset
    from leanspike.plots import accuracy_vs_sparsity
    from leanspike.tables import format_table

    source, reg, parent, dataset, name = _load_snn(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    targets = [float(s) for s in args.sweep.split(",")] if args.sweep else [args.sparsity]
    net = to_snntorch(source, registry=reg)
    print(f"pruning {args.snn} (T={net.timesteps}) with {args.method} on {dataset}, "
          f"{args.epochs} epochs per target")
    results = []
    for target in targets:
        r = prune(net, splits.train, splits.test, method=args.method, target_sparsity=target,
                  epochs=args.epochs, lr=args.lr, registry=reg if name else None, name=name,
                  parent=parent, device=args.device, seed=args.seed,
                  progress=not args.no_progress)
        results.append(r)
        print(format_table(["layer", "synapses", "alive", "connectivity"],
                           [[c.name, c.total, c.alive, f"{c.connectivity:.4f}"]
                            for c in r.layers]))
    rows = [[f"{r.target_sparsity:.3f}", f"{r.sparsity:.4f}", f"{r.dense_accuracy:.4f}",
             f"{r.accuracy:.4f}", f"{r.synaptic_ops:.4g}", f"{r.energy_ratio:.1f}x",
             r.entry_ref or "-"] for r in results]
    print(format_table(["target", "sparsity", "dense accuracy", "accuracy", "synops",
                        "energy ANN/SNN", "entry"], rows))
    out = Path(args.out or f"runs/prune-{name or 'snn'}-"
               f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    summary = [{**r.metrics(), "entry": r.entry_ref, "history": r.history} for r in results]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for r in results:
        r.spec.save(out / f"spec_sparsity_{r.target_sparsity:g}")
    files = ["summary.json", "spec_sparsity_*/"]
    if len(results) > 1:
        plot = accuracy_vs_sparsity(
            [{"label": args.method, "sparsity": r.sparsity, "accuracy": r.accuracy}
             for r in results], out / "accuracy_vs_sparsity.png",
            title=f"{args.method} on {dataset}", dense_accuracy=results[0].dense_accuracy)
        files.append(plot.name)
    print(f"run folder {out}: {', '.join(files)}")
    return 0


LAVA_BACKENDS = ("lava-float", "lava-fixed", "lava-fast-float", "lava-fast-fixed", "netx")


def _test_inputs(splits, limit: int | None):
    import torch

    n = len(splits.test) if limit is None else min(limit, len(splits.test))
    xs, ys = zip(*(splits.test[i] for i in range(n)))
    return torch.stack(xs), torch.tensor(ys)


def _train_inputs(splits):
    import torch

    return torch.stack([splits.train[i][0] for i in range(len(splits.train))])


def _lava_run(source, x, backend: str, calibration, workdir=None):
    """(LavaRun, deployed network or None) on any backend, netx through a temporary file."""
    import tempfile
    import warnings
    from pathlib import Path

    from leanspike.adapters.lava import prepare, run

    if backend != "netx":
        deployed = prepare(source, fixed="fixed" in backend, calibration=calibration)
        return run(source, x, backend, deployed=deployed), deployed
    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import write_netx

    deployed = prepare(source, fixed=True, calibration=calibration)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(workdir or tmp) / "network.net"
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            write_netx(deployed.fixed, path)
        return run_netx(path, x), deployed


def _spike_table(result) -> str:
    from leanspike.tables import format_table

    rows = [[f"layers[{i}]", f"{rate:.4f}", int(result.spike_counts[i].sum())]
            for i, rate in result.spikes_per_neuron().items()]
    return format_table(["layer", "spikes/neuron/sample", "spikes (all samples)"], rows)


def cmd_run_lava(args: argparse.Namespace) -> int:
    import torch

    from leanspike.adapters.snntorch import to_snntorch
    from leanspike.data import load_dataset
    from leanspike.tables import format_table

    source, reg, entry, dataset, _ = _load_snn(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    x, y = _test_inputs(splits, args.limit)
    result, deployed = _lava_run(source, x, args.backend, _train_inputs(splits))
    with torch.no_grad():
        reference = to_snntorch(deployed.spec).eval().run(x)
    ref_pred = reference.logits.flatten(1).argmax(1)
    rows = [["network", entry.ref if entry is not None else args.snn],
            ["backend", args.backend], ["time steps", deployed.spec.timesteps],
            ["test samples", len(x)],
            ["accuracy", f"{float((result.predictions == y).float().mean()):.4f}"],
            ["snnTorch accuracy", f"{float((ref_pred == y).float().mean()):.4f}"],
            ["agreement with snnTorch",
             f"{float((result.predictions == ref_pred).float().mean()):.2%}"],
            ["samples/s", f"{result.samples_per_s:.1f}"]]
    if result.spike_counts:
        equal = all(torch.equal(result.spike_counts[i], s.sum((0, 1)).to(torch.int64))
                    for i, s in reference.spikes.items())
        rows.append(["spike counts equal to snnTorch's", "yes" if equal else "no"])
    print(format_table(["run on Lava", "value"], rows))
    if result.spike_counts:
        print(_spike_table(result))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import json
    import warnings
    from pathlib import Path

    from leanspike.adapters.lava import LAVA_VERSIONS, prepare, verify
    from leanspike.data import load_dataset
    from leanspike.tables import format_table

    source, reg, entry, dataset, name = _load_snn(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    x, _ = _test_inputs(splits, args.verify_samples)
    calibration = _train_inputs(splits)
    fixed = args.backend != "lava-float"
    deployed = prepare(source, fixed=fixed, calibration=calibration)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"backend": args.backend, "source": entry.ref if entry is not None else args.snn,
              "dataset": dataset, "timesteps": deployed.spec.timesteps, **LAVA_VERSIONS}
    if fixed:
        q = deployed.fixed
        record["fixed_point"] = {"input_encoding": q.encoding.as_dict(),
                                 "output_scale": q.output_scale,
                                 "layers": [r.as_dict() for r in q.report]}
        print(format_table(
            ["layer", "weight unit", "weight RMS error", "threshold error", "vth", "dv"],
            [[f"layers[{r.layer_index}]", f"{r.unit:.4g}", f"{r.weight_rmse:.2%}",
              f"{r.threshold_max_error:.2%}", "-" if r.vth_range == (0, 0) else
              f"{r.vth_range[0]}..{r.vth_range[1]}", r.dv] for r in q.report]))
    if args.backend == "netx":
        from leanspike.adapters.lava.netx_run import run_netx
        from leanspike.adapters.netx import NetxApproximationWarning, write_netx
        from leanspike.loihi import emulate_fixed

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NetxApproximationWarning)
            path = write_netx(deployed.fixed, out / "network.net")
        notes = [str(w.message) for w in caught]
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        got = run_netx(path, x)
        _, raw = emulate_fixed(deployed.fixed, x)
        same = float((got.raw_output == raw).flatten(1).all(1).float().mean())
        record["netx"] = {"file": path.name, "exact": not notes, "notes": notes,
                          "agreement_with_fixed_point": same, "verified_samples": len(x)}
        print(f"netx file {path}: lava-dl's Network reproduces the fixed-point network's output "
              f"on {same:.2%} of {len(x)} test samples")
    else:
        report = verify(deployed.spec, x, backend=args.backend, calibration=calibration)
        print(report)
        record["verification"] = {"agree": report.agree, "samples": len(x),
                                  "first_divergence": str(report.first_divergence or ""),
                                  "prediction_agreement": report.prediction_agreement}
    deployed.spec.save(out / "spec")
    (out / "deployment.json").write_text(json.dumps(record, indent=2) + "\n")
    if entry is not None:
        new = reg.register(name, deployed.spec, stage=f"deployed-{args.backend}", parent=entry,
                           metrics={k: v for k, v in record.get("verification", {}).items()
                                    if isinstance(v, (int, float))},
                           params={"backend": args.backend, "dataset": dataset,
                                   **record.get("fixed_point", {"layers": None})})
        print(f"registered {new.ref}")
    print(f"deployment written to {out}")
    return 0


def _registry(args: argparse.Namespace):
    from leanspike.registry import Registry

    return Registry(args.registry)


def _accuracy(entry) -> str:
    for key in ("accuracy", "test_accuracy"):
        if isinstance(entry.metrics.get(key), (int, float)):
            return f"{entry.metrics[key]:.4f}"
    return "-"


def _entry_rows(entries) -> list[list]:
    return [[e.ref, e.stage, e.kind, e.timesteps or "-", e.parent or "-", _accuracy(e),
             ",".join(e.tags) or "-", e.created[:19].replace("T", " ")] for e in entries]


_ENTRY_HEADERS = ["entry", "stage", "kind", "T", "parent", "accuracy", "tags", "created (UTC)"]


def cmd_registry_list(args: argparse.Namespace) -> int:
    from leanspike.tables import format_table

    reg = _registry(args)
    entries = reg.list(name=args.name, stage=args.stage, tag=args.tag, kind=args.kind)
    if not entries:
        print(f"no entries in {reg.path}" + (" matching the filters" if any(
            (args.name, args.stage, args.tag, args.kind)) else ""))
        return 0
    print(format_table(_ENTRY_HEADERS, _entry_rows(entries)))
    return 0


def cmd_registry_show(args: argparse.Namespace) -> int:
    from leanspike.tables import format_table

    reg = _registry(args)
    e = reg.get(args.ref)
    rows = [["entry", e.ref], ["stage", e.stage], ["kind", e.kind],
            ["time steps", e.timesteps or "-"], ["parent", e.parent or "-"],
            ["created (UTC)", e.created], ["tags", ", ".join(e.tags) or "-"]]
    if e.origin:
        rows.append(["imported from", e.origin])
    rows += [[f"metric {k}", v] for k, v in sorted(e.metrics.items())]
    rows += [[f"param {k}", json.dumps(v)] for k, v in sorted(e.params.items())]
    rows += [[f"artifact {role}", f"sha256 {sha}"] for role, sha in sorted(e.artifacts.items())]
    children = reg.children(e)
    rows.append(["children", ", ".join(c.ref for c in children) or "-"])
    print(format_table(["field", "value"], rows))
    return 0


def cmd_registry_lineage(args: argparse.Namespace) -> int:
    from leanspike.tables import format_table

    chain = list(reversed(_registry(args).lineage(args.ref)))
    rows = [[i, *row] for i, row in enumerate(_entry_rows(chain))]
    print(format_table(["depth", *_ENTRY_HEADERS], rows))
    return 0


def cmd_registry_verify(args: argparse.Namespace) -> int:
    from leanspike.tables import format_table

    reg = _registry(args)
    report = reg.verify()
    if report.ok:
        print(f"{reg.path}: {report.entries_checked} entries checked, every artifact intact"
              + (f" ({report.unreferenced_files} unreferenced file(s); `leanspike registry gc` "
                 f"removes them)" if report.unreferenced_files else ""))
        return 0
    print(format_table(["entry", "artifact", "file", "problem"], report.problems))
    print(f"{len(report.problems)} problem(s) in {report.entries_checked} entries")
    return 1


def cmd_registry_rm(args: argparse.Namespace) -> int:
    removed = _registry(args).delete(args.ref, force=args.force)
    print("removed " + ", ".join(e.ref for e in removed))
    return 0


def cmd_registry_tag(args: argparse.Namespace) -> int:
    reg = _registry(args)
    entry = reg.untag(args.ref, *args.tags) if args.remove else reg.tag(args.ref, *args.tags)
    print(f"{entry.ref}: tags {', '.join(entry.tags) or '-'}")
    return 0


def cmd_registry_export(args: argparse.Namespace) -> int:
    reg = _registry(args)
    chain = reg.lineage(args.ref)
    path = reg.export(args.ref, args.file)
    print(f"exported {chain[0].ref} with {len(chain) - 1} ancestor(s) to {path}")
    return 0


def cmd_registry_import(args: argparse.Namespace) -> int:
    reg = _registry(args)
    entry = reg.import_archive(args.file)
    chain = " <- ".join(e.ref for e in reg.lineage(entry))
    print(f"imported {args.file}: {entry.ref} (lineage {chain})")
    return 0


def cmd_registry_gc(args: argparse.Namespace) -> int:
    removed = _registry(args).gc(grace_seconds=args.grace)
    print(f"removed {len(removed)} unreferenced artifact file(s)")
    return 0


def _add_registry_commands(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH",
                        help="registry folder (default: $LEANSPIKE_REGISTRY, else the user data "
                             "directory)")
    reg = sub.add_parser("registry", help="the model registry shared by training and deployment")
    rsub = reg.add_subparsers(dest="registry_command", metavar="ACTION")
    rsub.required = True
    p = rsub.add_parser("list", parents=[common], help="list entries")
    for flag in ("--name", "--stage", "--tag", "--kind"):
        p.add_argument(flag)
    p.set_defaults(func=cmd_registry_list)
    for name, fn, text in (("show", cmd_registry_show, "one entry in full"),
                           ("lineage", cmd_registry_lineage, "an entry's chain up to the root")):
        p = rsub.add_parser(name, parents=[common], help=text)
        p.add_argument("ref", help="name, name:VERSION, name@latest or name@STAGE")
        p.set_defaults(func=fn)
    rsub.add_parser("verify", parents=[common], help="re-hash every artifact").set_defaults(
        func=cmd_registry_verify)
    p = rsub.add_parser("rm", parents=[common], help="delete an entry")
    p.add_argument("ref")
    p.add_argument("--force", action="store_true", help="also delete its descendants")
    p.set_defaults(func=cmd_registry_rm)
    p = rsub.add_parser("tag", parents=[common], help="add (or --remove) tags")
    p.add_argument("ref")
    p.add_argument("tags", nargs="+")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=cmd_registry_tag)
    p = rsub.add_parser("export", parents=[common], help="write an entry and its lineage to FILE")
    p.add_argument("ref")
    p.add_argument("file")
    p.set_defaults(func=cmd_registry_export)
    p = rsub.add_parser("import", parents=[common], help="add the entries of an exported FILE")
    p.add_argument("file")
    p.set_defaults(func=cmd_registry_import)
    p = rsub.add_parser("gc", parents=[common], help="delete unreferenced artifact files")
    p.add_argument("--grace", type=float, default=3600.0,
                   help="keep files younger than this many seconds (default 3600)")
    p.set_defaults(func=cmd_registry_gc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leanspike",
        description="Convert trained DNNs into ultra-low-latency spiking networks, retrain them "
                    "down to one time step, prune them, and deploy them on Lava.")
    parser.add_argument("--version", action="version", version=f"leanspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    zoo = sub.add_parser("zoo", help="the model zoo")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="ACTION")
    zoo_sub.required = True
    zoo_sub.add_parser("list", help="list the architectures").set_defaults(func=cmd_zoo_list)

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    info = data_sub.add_parser("info", help="describe a dataset")
    info.add_argument("name")
    info.add_argument("--data-dir", help="local folder holding MNIST/CIFAR")
    info.set_defaults(func=cmd_data_info)

    t = sub.add_parser("train-ann", help="train a zoo ANN (the starting point for conversion)")
    t.add_argument("--dataset", default="digits")
    t.add_argument("--arch", default="small_cnn", help="zoo model name (see `leanspike zoo list`)")
    t.add_argument("--activation", default="relu", choices=["relu", "clip", "qcfs"])
    t.add_argument("--activation-arg", action="append", metavar="KEY=VALUE",
                   help="activation argument, e.g. levels=4 for qcfs (repeatable)")
    t.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                   help="builder argument, e.g. width=0.5 (repeatable, JSON values)")
    t.add_argument("--batch-norm", action="store_true", help="add batch norm after each conv")
    t.add_argument("--preset", default="auto",
                   choices=["auto", "default", "datta2022", "qcfs2022"],
                   help="optimiser settings; auto: Datta & Beerel's for --activation clip, Bu et "
                        "al.'s for qcfs, leanspike's default for relu. Flags below override them")
    t.add_argument("--epochs", type=int, help="default 40")
    t.add_argument("--batch-size", type=int, help="default 64")
    t.add_argument("--optimizer", choices=["sgd", "adam"])
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    t.add_argument("--download", action="store_true", help="download the dataset into --data-dir")
    t.add_argument("--augment", action="store_true", help="random crop and flip (CIFAR)")
    t.add_argument("--out", help="folder to save the trained model (model.json + safetensors)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--register", metavar="NAME",
                   help="register the trained ANN in the registry under NAME (stage 'ann')")
    t.add_argument("--registry", metavar="PATH", help="registry folder (see `registry --help`)")
    t.set_defaults(func=cmd_train_ann)
    # options every stage that trains on data shares
    stage = argparse.ArgumentParser(add_help=False)
    stage.add_argument("--dataset", help="default: the dataset recorded with the input model")
    stage.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    stage.add_argument("--split-seed", type=int, default=0, help="digits train/test split seed")
    stage.add_argument("--seed", type=int, default=0)
    stage.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    stage.add_argument("--registry", metavar="PATH", help="registry folder")
    stage.add_argument("--no-progress", action="store_true", help="no progress bars")

    c = sub.add_parser("convert", parents=[stage],
                       help="convert a trained ANN into an SNN at T time steps")
    c.add_argument("--ann", required=True,
                   help="registry reference (name, name:VERSION, name@ann) or saved-model folder")
    c.add_argument("--method", default="datta",
                   choices=["datta", "qcfs", "percentile", "max", "iir"])
    c.add_argument("--timesteps", type=int, default=2)
    c.add_argument("--finetune-epochs", type=int,
                   help="surrogate-gradient fine-tuning at T (default: 10 for datta, else 0)")
    c.add_argument("--lr", type=float, default=3e-4, help="fine-tuning learning rate (Adam)")
    c.add_argument("--surrogate", default="rectangular", choices=["rectangular", "triangular"])
    c.add_argument("--energy", default="fp32-45nm", choices=["fp32-45nm", "int32-45nm"],
                   help="energy constants (Horowitz 2014, 45 nm)")
    c.add_argument("--register", metavar="NAME",
                   help="register the SNN under NAME (default: the ANN entry's name)")
    c.add_argument("--out", help="also write the spec folder here")
    c.set_defaults(func=cmd_convert)
    r = sub.add_parser("retrain", parents=[stage],
                       help="IIR retraining down to one time step (T=5,4,...,1)")
    r.add_argument("--snn", help="registry reference or spec folder of the SNN to retrain")
    r.add_argument("--ann", help="or an ANN (reference or folder), converted first with the IIR "
                                 "paper's method at the schedule's first T")
    r.add_argument("--schedule", default="5,4,3,2,1")
    r.add_argument("--epochs-per-stage", type=int, default=5)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--surrogate", default="triangular", choices=["triangular", "rectangular"])
    r.add_argument("--name", help="registry name for the stages (default: the input's name)")
    r.add_argument("--out", help="run folder (default runs/retrain-NAME-TIMESTAMP)")
    r.set_defaults(func=cmd_retrain)
    pr = sub.add_parser("prune", parents=[stage],
                        help="prune an SNN (Grad R or magnitude) at its time steps")
    pr.add_argument("--snn", required=True, help="registry reference or spec folder")
    pr.add_argument("--method", default="gradr", choices=["gradr", "magnitude"])
    pr.add_argument("--sparsity", type=float, default=0.95, help="target fraction removed")
    pr.add_argument("--sweep", help="several targets, e.g. 0.5,0.8,0.9,0.95 (plots accuracy)")
    pr.add_argument("--epochs", type=int, default=60)
    pr.add_argument("--lr", type=float, help="default: 3e-3 for gradr, 1e-3 for magnitude")
    pr.add_argument("--name", help="registry name (default: the input entry's name)")
    pr.add_argument("--out", help="run folder (default runs/prune-NAME-TIMESTAMP)")
    pr.set_defaults(func=cmd_prune)
    lava_common = argparse.ArgumentParser(add_help=False)
    lava_common.add_argument("snn", help="registry reference or spec folder")
    lava_common.add_argument("--dataset", help="default: the dataset recorded with the network")
    lava_common.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    lava_common.add_argument("--split-seed", type=int, default=0)
    lava_common.add_argument("--registry", metavar="PATH", help="registry folder")
    lava_common.set_defaults(name=None)
    d = sub.add_parser("deploy", parents=[lava_common],
                       help="build the Lava network (or netx file), verify it, write it to DIR")
    d.add_argument("--backend", default="lava-fixed",
                   choices=["lava-float", "lava-fixed", "netx"])
    d.add_argument("--out", required=True, help="deployment folder")
    d.add_argument("--verify-samples", type=int, default=20,
                   help="test samples run on Lava to verify the deployment")
    d.set_defaults(func=cmd_deploy)
    rl = sub.add_parser("run-lava", parents=[lava_common],
                        help="run the test set on Lava: accuracy, agreement, speed, spikes")
    rl.add_argument("--backend", default="lava-float", choices=LAVA_BACKENDS)
    rl.add_argument("--limit", type=int, help="test samples to run (default: all)")
    rl.set_defaults(func=cmd_run_lava)
    _add_registry_commands(sub)
    from leanspike.pipeline.cli import add_pipeline_command

    add_pipeline_command(sub)
    from leanspike.stdp.cli import add_stdp_command

    add_stdp_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LeanspikeError as exc:
        print(f"leanspike: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("leanspike: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
