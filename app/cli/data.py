"""``leanspike data``: the datasets, and what one holds."""

from __future__ import annotations

import argparse

from leanspike.app.cli.common import DATA_DIR_HELP


def cmd_data_info(args: argparse.Namespace) -> int:
    from collections import Counter

    from leanspike.app.tables import format_table
    from leanspike.data import dataset_info, load_dataset

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


def add_commands(sub) -> None:
    from leanspike.data import DATASETS

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    info = data_sub.add_parser("info", help="describe a dataset")
    info.add_argument("name", help=", ".join(DATASETS))
    info.add_argument("--data-dir", help=DATA_DIR_HELP)
    info.set_defaults(func=cmd_data_info)
