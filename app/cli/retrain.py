"""``leanspike retrain``: IIR retraining down to one time step (T = 5, 4, ..., 1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from leanspike.app.cli.common import (
    dataset_of,
    default_of,
    load_ann,
    open_registry,
    stage_options,
    timestamped_run_folder,
)
from leanspike.errors import LeanspikeError


def cmd_retrain(args: argparse.Namespace) -> int:
    import warnings

    from leanspike import distributed
    from leanspike.adapters.snntorch.retraining import retrain
    from leanspike.app.plots import accuracy_energy_vs_timesteps
    from leanspike.app.tables import format_table
    from leanspike.convert import convert
    from leanspike.data import load_dataset
    from leanspike.registry import register_stage
    from leanspike.retrain import SpikeVanishingWarning, parse_schedule
    from leanspike.spec import SPEC_FILE, load_spec

    schedule = parse_schedule(args.schedule)
    reg = parent = None
    if (args.snn is None) == (args.ann is None):
        raise LeanspikeError("give exactly one of --snn REF (an SNN to retrain) or --ann REF "
                             "(an ANN to convert with the IIR paper's method first)")
    if args.ann is not None:
        model, parent, dataset = load_ann(args)
        reg = parent.registry if parent is not None else None
        name = args.name or (parent.name if parent else "model")
    elif Path(args.snn).is_dir() and (Path(args.snn) / SPEC_FILE).is_file():
        source, dataset, name = load_spec(args.snn), args.dataset or "digits", args.name
    else:
        reg = open_registry(args)
        parent = reg.get(args.snn)
        source = parent
        dataset = args.dataset or dataset_of(reg, parent) or "digits"
        name = args.name or parent.name
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    if args.ann is not None:
        source, report = convert(model, splits.train, method="iir", timesteps=schedule[0])
        print(f"converted {args.ann} with the IIR paper's method at T={schedule[0]}: thresholds "
              + ", ".join(f"{c.threshold:.3g}" for c in report.layers))
        if reg is not None:
            parent = register_stage(reg, name, source, stage="snn", parent=parent,
                                    params={"dataset": dataset, "method": "iir",
                                            "timesteps": schedule[0]})
    if reg is None and args.registry:
        reg = open_registry(args)
    out = timestamped_run_folder(args.out, "retrain", name)
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
    if not distributed.is_main():  # rank 0 writes the run folder
        return 0
    out.mkdir(parents=True, exist_ok=True)
    result.final.spec.save(out / "final_spec")
    (out / "summary.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    plot = accuracy_energy_vs_timesteps(
        [{"timesteps": s.timesteps, "accuracy": s.accuracy, "energy_ratio": s.energy_ratio}
         for s in result.stages], out / "accuracy_energy_vs_T.png",
        title=f"IIR retraining on {dataset}")
    print(f"run folder {out}: summary.json, final_spec/, {plot.name}")
    return 0


def add_commands(sub) -> None:
    from leanspike.adapters.snntorch.retraining import retrain
    from leanspike.adapters.snntorch.surrogates import SURROGATES

    schedule = ",".join(map(str, default_of(retrain, "schedule")))
    r = sub.add_parser("retrain", parents=[stage_options()],
                       help="IIR retraining down to one time step (T=5,4,...,1)")
    r.add_argument("--snn", help="registry reference or spec folder of the SNN to retrain")
    r.add_argument("--ann", help="or an ANN (reference or folder), converted first with the IIR "
                                 "paper's method at the schedule's first T")
    r.add_argument("--schedule", default=schedule, help="time steps, e.g. 4,2,1 (default "
                                                        "%(default)s)")
    r.add_argument("--epochs-per-stage", type=int, default=default_of(retrain, "epochs_per_stage"),
                   help="default %(default)s")
    r.add_argument("--lr", type=float, default=default_of(retrain, "lr"),
                   help="default %(default)s")
    r.add_argument("--surrogate", default=default_of(retrain, "surrogate"), choices=SURROGATES,
                   help="default %(default)s")
    r.add_argument("--name", help="registry name for the stages (default: the input's name)")
    r.add_argument("--out", help="run folder (default runs/retrain-NAME-TIMESTAMP)")
    r.set_defaults(func=cmd_retrain)
