"""``leanspike train-ann``: train a zoo ANN, the starting point of conversion."""

from __future__ import annotations

import argparse
import dataclasses

from leanspike.app.cli.common import (
    DATA_DIR_HELP,
    DEVICE_HELP,
    REGISTRY_HELP,
    key_values,
    open_registry,
)


def cmd_train_ann(args: argparse.Namespace) -> int:
    from leanspike import distributed
    from leanspike._version import __version__
    from leanspike.data import load_dataset
    from leanspike.registry import register_stage
    from leanspike.training import PRESETS, preset_for, resolve_device, set_seed, train_ann
    from leanspike.zoo import create_model, save_model

    splits = load_dataset(args.dataset, args.data_dir, download=args.download, seed=args.seed,
                          augment=args.augment)
    kwargs = {"num_classes": splits.info.num_classes,
              "input_shape": list(splits.info.input_shape),
              "activation": args.activation,
              "batch_norm": args.batch_norm}
    if args.activation_arg:
        kwargs["activation_args"] = key_values(args.activation_arg, "--activation-arg")
    kwargs.update(key_values(args.model_arg or [], "--model-arg"))
    set_seed(args.seed)  # the initial weights are part of what the seed fixes
    model = create_model(args.arch, **kwargs)
    preset = preset_for(args.activation) if args.preset == "auto" else args.preset
    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "optimizer", "lr")
                 if getattr(args, k) is not None}
    config = dataclasses.replace(PRESETS[preset], seed=args.seed, device=args.device,
                                 **overrides)
    device = resolve_device(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {args.arch} ({n_params:,} parameters, activation {args.activation}) on "
          f"{args.dataset} ({len(splits.train)} train / {len(splits.test)} test) for "
          f"{config.epochs} epochs on {device} ({preset} optimiser settings: "
          f"{config.optimizer}, lr {config.lr})")
    result = train_ann(model, splits, config, progress=not args.no_progress)
    print(f"test accuracy: {result.test_accuracy:.4f}  ({args.arch} on {args.dataset}, "
          f"{result.seconds:.1f} s)")
    meta = {"dataset": args.dataset, "test_accuracy": result.test_accuracy,
            "train_seconds": result.seconds, "train_config": result.config,
            "leanspike_version": __version__}
    if args.out and distributed.is_main():
        path = save_model(model.cpu(), args.out, metadata=meta)
        print(f"saved to {path}")
    if args.register:
        entry = register_stage(
            open_registry(args), args.register, model.cpu(), stage="ann",
            metrics={"accuracy": result.test_accuracy, "train_seconds": result.seconds},
            params={"dataset": args.dataset, "arch": args.arch, "model": kwargs,
                    "train_config": result.config})
        print(f"registered as {entry.ref} in {entry.registry.path}")
    return 0


def add_commands(sub) -> None:
    from leanspike.activations import ACTIVATIONS
    from leanspike.data import DATASETS
    from leanspike.training import ACTIVATION_PRESETS, PRESETS, TrainConfig

    base = TrainConfig()
    auto = ", ".join(f"{p} for {a}" for a, p in ACTIVATION_PRESETS.items())
    t = sub.add_parser("train-ann", help="train a zoo ANN (the starting point for conversion)")
    t.add_argument("--dataset", default="digits", help=", ".join(DATASETS))
    t.add_argument("--arch", default="small_cnn", help="zoo model name (see `leanspike zoo list`)")
    t.add_argument("--activation", default="relu", choices=list(ACTIVATIONS))
    t.add_argument("--activation-arg", action="append", metavar="KEY=VALUE",
                   help="activation argument, e.g. levels=4 for qcfs (repeatable)")
    t.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                   help="builder argument, e.g. width=0.5 (repeatable, JSON values)")
    t.add_argument("--batch-norm", action="store_true", help="add batch norm after each conv")
    t.add_argument("--preset", default="auto", choices=["auto", *PRESETS],
                   help=f"optimiser settings; auto: the activation's paper ({auto}), else "
                        f"default. Flags below override them")
    t.add_argument("--epochs", type=int, help=f"default {base.epochs}")
    t.add_argument("--batch-size", type=int, help=f"default {base.batch_size}")
    t.add_argument("--optimizer", choices=["sgd", "adam"], help="default: the preset's")
    t.add_argument("--lr", type=float, help="default: the preset's")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help=DEVICE_HELP)
    t.add_argument("--data-dir", help=DATA_DIR_HELP)
    t.add_argument("--download", action="store_true", help="download the dataset into --data-dir")
    t.add_argument("--augment", action="store_true", help="random crop and flip (CIFAR)")
    t.add_argument("--out", help="folder to save the trained model (model.json + safetensors)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--register", metavar="NAME",
                   help="register the trained ANN in the registry under NAME (stage 'ann')")
    t.add_argument("--registry", metavar="PATH", help=REGISTRY_HELP)
    t.set_defaults(func=cmd_train_ann)
