"""The ``leanspike`` command line: one subcommand per stage of the flow, one module per
command group. Each module's ``add_commands(sub)`` adds its subcommands; their choices and
defaults come from the library (``common``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from leanspike import distributed
from leanspike._version import __version__
from leanspike.app.cli import (
    convert,
    data,
    interchange,
    lava,
    pipeline,
    prune,
    registry,
    retrain,
    stdp,
    train,
    zoo,
)
from leanspike.errors import LeanspikeError

# in the order `leanspike --help` lists them: the flow first, then the tools around it
COMMAND_GROUPS = (zoo, data, train, convert, retrain, prune, lava, interchange, registry, pipeline,
                  stdp)

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leanspike",
        description="Convert trained DNNs into ultra-low-latency spiking networks, retrain them "
                    "down to one time step, prune them, and deploy them on Lava.")
    parser.add_argument("--version", action="version", version=f"leanspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    return parser


def _join_torchrun(args: argparse.Namespace) -> None:
    """Under torchrun: join the process group on the command's device; ranks other than 0 keep
    stderr (their errors) but print nothing else, so the output reads as one run's."""
    if distributed.init(getattr(args, "device", None) or "auto") and not distributed.is_main():
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors the user can fix print one line (exit 2), Ctrl-C prints one
    line (exit 130)."""
    try:
        args = build_parser().parse_args(argv)
        _join_torchrun(args)
        return args.func(args)
    except LeanspikeError as exc:
        print(f"leanspike: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("leanspike: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
