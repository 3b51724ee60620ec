"""The ``leanspike`` command line: one subcommand per stage of the flow."""

from __future__ import annotations

import argparse
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
    from leanspike.training import TrainConfig, resolve_device, set_seed, train_ann
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
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                         lr=args.lr, seed=args.seed, device=args.device)
    device = resolve_device(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"training {args.arch} ({n_params:,} parameters, activation {args.activation}) on "
          f"{args.dataset} ({len(splits.train)} train / {len(splits.test)} test) for "
          f"{args.epochs} epochs on {device}")
    result = train_ann(model, splits, config, progress=not args.no_progress)
    print(f"test accuracy: {result.test_accuracy:.4f}  ({args.arch} on {args.dataset}, "
          f"{result.seconds:.1f} s)")
    if args.out:
        meta = {"dataset": args.dataset, "test_accuracy": result.test_accuracy,
                "train_seconds": result.seconds, "train_config": result.config,
                "leanspike_version": __version__}
        path = save_model(model.cpu(), args.out, metadata=meta)
        print(f"saved to {path}")
    return 0


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
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    t.add_argument("--download", action="store_true", help="download the dataset into --data-dir")
    t.add_argument("--augment", action="store_true", help="random crop and flip (CIFAR)")
    t.add_argument("--out", help="folder to save the trained model (model.json + safetensors)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train_ann)
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
