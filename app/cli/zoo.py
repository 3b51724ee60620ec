"""``leanspike zoo``: the architectures the model zoo builds by name."""

from __future__ import annotations

import argparse


def cmd_zoo_list(args: argparse.Namespace) -> int:
    from leanspike.app.tables import format_table
    from leanspike.zoo import list_models, model_entry

    rows = []
    for name in list_models():
        e = model_entry(name)
        rows.append([name, "x".join(map(str, e.default_input_shape)),
                     "yes" if e.convertible else "no", e.description])
    print(format_table(["model", "input", "spec-convertible", "description"], rows))
    return 0


def add_commands(sub) -> None:
    zoo = sub.add_parser("zoo", help="the model zoo")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", metavar="ACTION")
    zoo_sub.required = True
    zoo_sub.add_parser("list", help="list the architectures").set_defaults(func=cmd_zoo_list)
