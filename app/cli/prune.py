"""``leanspike prune``: prune an SNN at its own T (Grad R, STDS or magnitude)."""

from __future__ import annotations

import argparse
import json

from leanspike.app.cli.common import default_of, load_snn, stage_options, timestamped_run_folder


def cmd_prune(args: argparse.Namespace) -> int:
    from leanspike import distributed
    from leanspike.adapters.snntorch import prune, to_snntorch
    from leanspike.app.plots import accuracy_vs_sparsity
    from leanspike.app.tables import format_table
    from leanspike.data import load_dataset

    source, reg, parent, dataset, name = load_snn(args)
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
    if not distributed.is_main():  # rank 0 writes the run folder
        return 0
    out = timestamped_run_folder(args.out, "prune", name)
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


def add_commands(sub) -> None:
    from leanspike.adapters.snntorch import prune
    from leanspike.adapters.snntorch.pruning import DEFAULT_LR, METHODS

    rates = ", ".join(f"{lr:g} for {m}" for m, lr in DEFAULT_LR.items())
    pr = sub.add_parser("prune", parents=[stage_options()],
                        help="prune an SNN (" + ", ".join(METHODS) + ") at its time steps")
    pr.add_argument("--snn", required=True, help="registry reference or spec folder")
    pr.add_argument("--method", default=default_of(prune, "method"), choices=METHODS,
                    help="default %(default)s")
    pr.add_argument("--sparsity", type=float, default=default_of(prune, "target_sparsity"),
                    help="target fraction removed (default %(default)s)")
    pr.add_argument("--sweep", help="several targets, e.g. 0.5,0.8,0.9,0.95 (plots accuracy)")
    pr.add_argument("--epochs", type=int, default=default_of(prune, "epochs"),
                    help="training epochs per target (default %(default)s)")
    pr.add_argument("--lr", type=float, help=f"default: {rates}")
    pr.add_argument("--name", help="registry name (default: the input entry's name)")
    pr.add_argument("--out", help="run folder (default runs/prune-NAME-TIMESTAMP)")
    pr.set_defaults(func=cmd_prune)
