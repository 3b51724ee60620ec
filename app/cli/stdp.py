"""``leanspike stdp``: learn a TTFS network with STDP on a dataset, pruning connections while
it learns, and report what learning and inference cost (optionally against the same seed
without pruning, and checked on Lava)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from leanspike.stdp.readout import READOUTS
from leanspike.stdp.rule import Pruning


def add_commands(sub) -> None:
    default = Pruning()
    p = sub.add_parser("stdp", help="learn a TTFS network with STDP, pruning connections as it "
                                    "learns (Nguyen et al. 2021)")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    p.add_argument("--split-seed", type=int, default=0, help="digits train/test split seed")
    p.add_argument("--seed", type=int, default=0, help="initial weights and sample order")
    p.add_argument("--prune-threshold", type=float, default=default.threshold,
                   help=f"remove a synapse for good once its weight falls below this "
                        f"(default {default.threshold}; 0 disables pruning)")
    p.add_argument("--prune-interval", type=int, default=default.interval,
                   help=f"training samples between pruning checks (default {default.interval})")
    p.add_argument("--compare", action="store_true",
                   help="also learn without pruning at the same seed and print the savings")
    p.add_argument("--timesteps", type=int, help="latency code length T (default 16)")
    p.add_argument("--channels", help="feature maps per conv layer (default 16,64)")
    p.add_argument("--epochs", type=float, help="at most this many passes per layer")
    p.add_argument("--dog", action="store_true", help="DoG ON/OFF filtering before encoding")
    p.add_argument("--readout", choices=READOUTS, help="linear classifier (default svm)")
    p.add_argument("--lava-samples", type=int, default=0, metavar="N",
                   help="run N test samples on Lava and compare every first-spike time")
    p.add_argument("--out", help="folder for the network (ttfs.json + weights.safetensors), "
                                 "summary.json and learning.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_stdp)


def _config(args: argparse.Namespace):
    from leanspike.stdp.workflow import STDPConfig

    config = STDPConfig()
    changes: dict = {"pruning": Pruning(args.prune_threshold, args.prune_interval)}
    if args.timesteps:
        changes["timesteps"] = args.timesteps
    if args.channels:
        changes["channels"] = tuple(int(c) for c in args.channels.split(","))
    if args.epochs:
        changes["max_epochs"] = (args.epochs,) * len(config.channels)
    if args.dog:
        changes["dog"] = True
    if args.readout:
        changes["readout"] = args.readout
    return dataclasses.replace(config, **changes)


def cmd_stdp(args: argparse.Namespace) -> int:
    from leanspike.app.tables import format_table
    from leanspike.stdp.workflow import encode, load_images, run_stdp

    config = _config(args)
    data = load_images(args.dataset, args.data_dir, args.split_seed)
    print(f"STDP on {args.dataset} ({len(data[0])} train / {len(data[2])} test), conv maps "
          f"{', '.join(map(str, config.channels))}, T={config.timesteps}, "
          + (f"pruning below {config.pruning.threshold} every {config.pruning.interval} "
             f"samples" if config.pruning.enabled else "no pruning"))
    runs = [run_stdp(config, seed=args.seed, data=data, progress=not args.no_progress)]
    if args.compare and config.pruning.enabled:
        dense = dataclasses.replace(config, pruning=Pruning(threshold=0.0))
        runs.append(run_stdp(dense, seed=args.seed, data=data, progress=not args.no_progress))
    result = runs[0]
    print(format_table(["layer", "weights", "alive", "connectivity", "synapses alive",
                        "samples", "updates", "converged (C)"],
                       [[c.name, c.total, c.alive, f"{c.connectivity:.4f}",
                         f"{c.synapses_alive}/{c.synapses_total}", r.samples, r.updates,
                         f"{'yes' if r.converged else 'no'} ({r.convergence:.4f})"]
                        for c, r in zip(result.connectivity, result.learning.layers)]))
    rows = [
        ["readout accuracy (test)", *(f"{r.accuracy:.4f}" for r in runs)],
        ["connectivity", *(f"{r.overall_connectivity:.4f}" for r in runs)],
        ["learning wall clock (s)", *(f"{r.learning.seconds:.2f}" for r in runs)],
        ["synaptic updates (learning)", *(f"{r.learning.updates:,}" for r in runs)],
        ["synaptic events (learning)", *(f"{r.learning.events:,}" for r in runs)],
        ["synaptic events / test sample", *(f"{r.inference_events:.0f}" for r in runs)],
        ["spikes / test sample", *(f"{r.test_spikes:.1f}" for r in runs)],
    ]
    headers = ["STDP" + (" (pruned)" if result.pruned else ""), "value"]
    if len(runs) == 2:
        p, d = runs
        headers = ["same seed", "pruned", "not pruned"]
        rows.append(["dense / pruned: updates, inference events, learn time",
                     f"{d.learning.updates / max(p.learning.updates, 1):.2f}x, "
                     f"{d.inference_events / max(p.inference_events, 1e-9):.2f}x, "
                     f"{d.learning.seconds / p.learning.seconds:.2f}x", ""])
    print(format_table(headers, rows))
    summary = {"dataset": args.dataset, "config": config.as_dict(),
               "runs": [{**r.metrics(), "learning": r.learning.as_dict()} for r in runs]}
    if args.lava_samples:
        from leanspike.adapters.lava.ttfs import run_ttfs, verify_ttfs
        from leanspike.stdp.readout import spike_features

        x = encode(data[2][:args.lava_samples], config)
        lava = run_ttfs(result.network, x)
        agreement = verify_ttfs(result.network, x, lava)
        predicted = result.readout.predict(spike_features(lava.output, config.timesteps))
        accuracy = float((predicted == data[3][:len(x)].numpy()).mean())
        print(f"Lava ({len(x)} test samples, {lava.samples_per_s:.1f} samples/s): {agreement}; "
              f"readout accuracy on Lava's spikes {accuracy:.4f}")
        summary["lava"] = {"samples": len(x), "exact": agreement.exact,
                           "layers": agreement.layers, "accuracy": accuracy,
                           "samples_per_s": lava.samples_per_s}
    if args.out:
        from leanspike.app.plots import learning_curves

        out = Path(args.out)
        result.network.save(out / "network")
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        learning_curves(runs, out / "learning.png", title=f"STDP on {args.dataset}")
        print(f"run folder {out}: network/, summary.json, learning.png")
    return 0
