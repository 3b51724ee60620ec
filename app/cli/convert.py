"""``leanspike convert``: a trained ANN becomes an SNN at T time steps."""

from __future__ import annotations

import argparse

from leanspike.app.cli.common import default_of, load_ann, open_registry, stage_options


def cmd_convert(args: argparse.Namespace) -> int:
    from leanspike import distributed
    from leanspike.adapters.snntorch import FinetuneConfig, convert
    from leanspike.adapters.snntorch.conversion import DEFAULT_FINETUNE_EPOCHS
    from leanspike.app.tables import format_table
    from leanspike.data import load_dataset
    from leanspike.energy import PRESETS
    from leanspike.registry import register_stage
    from leanspike.training import evaluate, set_seed

    model, parent, dataset = load_ann(args)
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    set_seed(args.seed)
    ann_accuracy = evaluate(model, splits.test)
    epochs = args.finetune_epochs
    if epochs is None:
        epochs = DEFAULT_FINETUNE_EPOCHS.get(args.method, 0)
    config = FinetuneConfig(epochs=epochs, lr=args.lr, seed=args.seed, device=args.device)
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
    if epochs:
        summary.append([f"SNN accuracy after {epochs} fine-tuning epochs",
                        f"{outcome.accuracy:.4f}"])
    summary += [["spikes per inference", f"{e.spikes_per_inference:.1f}"],
                ["synaptic ops per inference", f"{e.synaptic_ops:.4g}"],
                ["energy ANN / SNN", f"{e.ratio:.1f}x ({e.model.name}: MAC {e.model.e_mac_pj} pJ, "
                                     f"AC {e.model.e_ac_pj} pJ)"]]
    print(format_table([f"{args.method} conversion", "value"], summary))
    if args.out and distributed.is_main():
        print(f"spec written to {outcome.spec.save(args.out)}")
    if parent is not None or args.register:
        reg = parent.registry if parent is not None else open_registry(args)
        entry = register_stage(
            reg, args.register or parent.name, outcome.spec, stage="snn", parent=parent,
            metrics={**outcome.metrics(), "ann_accuracy": ann_accuracy},
            params={"dataset": dataset, "method": args.method, "timesteps": args.timesteps,
                    "finetune": outcome.finetune.config if outcome.finetune else None,
                    "surrogate": args.surrogate,
                    "layers": [c.as_dict() for c in outcome.report.layers]})
        print(f"registered as {entry.ref} (parent {entry.parent or '-'}) in {reg.path}")
    return 0


def add_commands(sub) -> None:
    from leanspike.adapters.snntorch import FinetuneConfig, convert
    from leanspike.adapters.snntorch.conversion import DEFAULT_FINETUNE_EPOCHS
    from leanspike.adapters.snntorch.surrogates import SURROGATES
    from leanspike.convert import METHODS
    from leanspike.energy import PRESETS, EnergyModel

    standard = next(name for name, model in PRESETS.items() if model == EnergyModel())
    finetuned = ", ".join(f"{e} for {m}" for m, e in DEFAULT_FINETUNE_EPOCHS.items())
    c = sub.add_parser("convert", parents=[stage_options()],
                       help="convert a trained ANN into an SNN at T time steps")
    c.add_argument("--ann", required=True,
                   help="registry reference (name, name:VERSION, name@ann) or saved-model folder")
    c.add_argument("--method", default=default_of(convert, "method"), choices=METHODS,
                   help="default %(default)s")
    c.add_argument("--timesteps", type=int, default=default_of(convert, "timesteps"),
                   help="default %(default)s")
    c.add_argument("--finetune-epochs", type=int,
                   help=f"surrogate-gradient fine-tuning at T (default: {finetuned}, else 0)")
    c.add_argument("--lr", type=float, default=FinetuneConfig.lr,
                   help="fine-tuning learning rate (Adam; default %(default)s)")
    c.add_argument("--surrogate", default=default_of(convert, "surrogate"), choices=SURROGATES,
                   help="default %(default)s")
    c.add_argument("--energy", default=standard, choices=list(PRESETS),
                   help="energy constants (Horowitz 2014, 45 nm; default %(default)s)")
    c.add_argument("--register", metavar="NAME",
                   help="register the SNN under NAME (default: the ANN entry's name)")
    c.add_argument("--out", help="also write the spec folder here")
    c.set_defaults(func=cmd_convert)
