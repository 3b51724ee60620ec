"""``leanspike deploy`` and ``leanspike run-lava``: a spec on Lava (float, Loihi 2 fixed point)
or as the netx file lava-dl loads, checked against its snnTorch twin."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from leanspike.app.cli.common import DATA_DIR_HELP, REGISTRY_HELP, load_snn


def _test_inputs(splits, limit: int | None):
    import torch

    n = len(splits.test) if limit is None else min(limit, len(splits.test))
    xs, ys = zip(*(splits.test[i] for i in range(n)))
    return torch.stack(xs), torch.tensor(ys)


def _train_inputs(splits):
    import torch

    return torch.stack([splits.train[i][0] for i in range(len(splits.train))])


def _lava_run(source, x, backend: str, calibration, workdir=None):
    """(LavaRun, deployed network) on any backend, netx through a temporary file."""
    import tempfile
    import warnings

    from leanspike.adapters.lava import prepare, run
    from leanspike.loihi.backends import NETX

    if backend != NETX:
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
    from leanspike.app.tables import format_table

    rows = [[f"layers[{i}]", f"{rate:.4f}", int(result.spike_counts[i].sum())]
            for i, rate in result.spikes_per_neuron().items()]
    return format_table(["layer", "spikes/neuron/sample", "spikes (all samples)"], rows)


def cmd_run_lava(args: argparse.Namespace) -> int:
    import torch

    from leanspike.adapters.snntorch import to_snntorch
    from leanspike.app.tables import format_table
    from leanspike.data import load_dataset

    source, reg, entry, dataset, _ = load_snn(args)
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
    import warnings

    from leanspike.adapters.lava import LAVA_VERSIONS, prepare, verify
    from leanspike.app.tables import format_table
    from leanspike.data import load_dataset
    from leanspike.loihi.backends import NETX
    from leanspike.registry import register_stage

    source, reg, entry, dataset, name = load_snn(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    x, _ = _test_inputs(splits, args.verify_samples)
    calibration = _train_inputs(splits)
    fixed = args.backend != "lava-float"
    deployed = prepare(source, fixed=fixed, calibration=calibration)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # what the output is: a spiking readout's is its spike count (output_scale: one spike)
    readout = "spike count" if deployed.spec.spiking_readout else "potential"
    record = {"backend": args.backend, "source": entry.ref if entry is not None else args.snn,
              "dataset": dataset, "timesteps": deployed.spec.timesteps, "readout": readout,
              **LAVA_VERSIONS}
    if fixed:
        q = deployed.fixed
        record["fixed_point"] = {"input_encoding": q.encoding.as_dict(),
                                 "output_scale": q.output_scale,
                                 "layers": [r.as_dict() for r in q.report]}
        print(format_table(
            ["layer", "weight unit", "weight RMS error", "threshold error", "vth", "dv"],
            [[f"layers[{r.layer_index}]", f"{r.unit:.4g}", f"{r.weight_rmse:.2%}",
              f"{r.threshold_max_error:.2%}", "-" if r.vth_range == (0, 0) else
              f"{r.vth_range[0]}..{r.vth_range[1]}",
              r.dv if isinstance(r.dv, int) else f"{r.dv[0]}..{r.dv[1]}"] for r in q.report]))
    if args.backend == NETX:
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
                                  "prediction_agreement": report.prediction_agreement,
                                  "max_output_error": report.max_output_error}
    deployed.spec.save(out / "spec")
    (out / "deployment.json").write_text(json.dumps(record, indent=2) + "\n")
    if entry is not None:
        new = register_stage(reg, name, deployed.spec, stage=f"deployed-{args.backend}",
                             parent=entry,
                             metrics={k: v for k, v in record.get("verification", {}).items()
                                      if isinstance(v, (int, float))},
                             params={"backend": args.backend, "dataset": dataset,
                                     **record.get("fixed_point", {"layers": None})})
        print(f"registered {new.ref}")
    print(f"deployment written to {out}")
    return 0


def add_commands(sub) -> None:
    from leanspike.loihi.backends import DEPLOY_BACKENDS, LAVA_BACKENDS, NETX

    lava_common = argparse.ArgumentParser(add_help=False)
    lava_common.add_argument("snn", help="registry reference or spec folder")
    lava_common.add_argument("--dataset", help="default: the dataset recorded with the network")
    lava_common.add_argument("--data-dir", help=DATA_DIR_HELP)
    lava_common.add_argument("--split-seed", type=int, default=0)
    lava_common.add_argument("--registry", metavar="PATH", help=REGISTRY_HELP)
    lava_common.set_defaults(name=None)
    # a deployment is per-layer processes (or the netx file); the one-process back-ends are
    # run-lava's fast path for the same network
    deploy_choices = [b for b in DEPLOY_BACKENDS if not LAVA_BACKENDS.get(b, (0, False))[1]]
    d = sub.add_parser("deploy", parents=[lava_common],
                       help="build the Lava network (or netx file), verify it, write it to DIR")
    d.add_argument("--backend", default="lava-fixed", choices=deploy_choices,
                   help="default %(default)s")
    d.add_argument("--out", required=True, help="deployment folder")
    d.add_argument("--verify-samples", type=int, default=20,
                   help="test samples run on Lava to verify the deployment (default %(default)s)")
    d.set_defaults(func=cmd_deploy)
    rl = sub.add_parser("run-lava", parents=[lava_common],
                        help="run the test set on Lava: accuracy, agreement, speed, spikes")
    rl.add_argument("--backend", default=next(iter(LAVA_BACKENDS)),
                    choices=[*LAVA_BACKENDS, NETX], help="default %(default)s")
    rl.add_argument("--limit", type=int, help="test samples to run (default: all)")
    rl.set_defaults(func=cmd_run_lava)
