"""What the command groups share: option groups, the defaults read off the library, and how a
command finds its input model (a registry reference or a folder) and its dataset.

Choices and defaults are read from the library (its constants, or the signature of the
function a command calls), never repeated here: a help text cannot drift from what runs.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from leanspike.errors import LeanspikeError

DEVICE_HELP = "auto, cpu, cuda or cuda:N"
DATA_DIR_HELP = "local folder for mnist/cifar10/cifar100"
REGISTRY_HELP = "registry folder (default: $LEANSPIKE_REGISTRY, else the user data directory)"


def default_of(function: Callable, parameter: str):
    """The default of ``function``'s keyword ``parameter``: what the library does when the
    flag is not given."""
    value = inspect.signature(function).parameters[parameter].default
    if value is inspect.Parameter.empty:
        raise TypeError(f"{function.__qualname__}({parameter}) has no default")
    return value


def parse_value(text: str):
    """A flag's value as JSON when it parses (numbers, lists, booleans), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def key_values(pairs: Sequence[str], flag: str) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LeanspikeError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key] = parse_value(value)
    return out


def registry_options() -> argparse.ArgumentParser:
    """``--registry PATH``: a parent parser for every command that reads or writes entries."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH", help=REGISTRY_HELP)
    return common


def stage_options() -> argparse.ArgumentParser:
    """Options every stage that trains on data shares (convert, retrain, prune)."""
    stage = argparse.ArgumentParser(add_help=False, parents=[registry_options()])
    stage.add_argument("--dataset", help="default: the dataset recorded with the input model")
    stage.add_argument("--data-dir", help=DATA_DIR_HELP)
    stage.add_argument("--split-seed", type=int, default=0, help="digits train/test split seed")
    stage.add_argument("--seed", type=int, default=0)
    stage.add_argument("--device", default="auto", help=DEVICE_HELP)
    stage.add_argument("--no-progress", action="store_true", help="no progress bars")
    return stage


def open_registry(args: argparse.Namespace):
    from leanspike.registry import Registry

    return Registry(args.registry)


def timestamped_run_folder(out: str | None, kind: str, name: str | None) -> Path:
    """``out``, or runs/KIND-NAME-TIMESTAMP."""
    import datetime as dt

    return Path(out or f"runs/{kind}-{name or 'snn'}-"
                f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")


def dataset_of(registry, entry) -> str | None:
    """The dataset recorded nearest to ``entry`` in its lineage."""
    for e in registry.lineage(entry):
        if isinstance(e.params.get("dataset"), str):
            return e.params["dataset"]
    return None


def load_ann(args: argparse.Namespace):
    """(model, parent entry or None, dataset name) from a saved-model folder or a registry ref
    in ``args.ann``."""
    from leanspike.zoo import load_model
    from leanspike.zoo.checkpoint import MODEL_FILE

    if Path(args.ann).is_dir() and (Path(args.ann) / MODEL_FILE).is_file():
        model, meta = load_model(args.ann)
        return model, None, args.dataset or meta.get("dataset") or "digits"
    reg = open_registry(args)
    entry = reg.get(args.ann)
    if entry.kind != "ann":
        raise LeanspikeError(f"{entry.ref} is an SNN (stage {entry.stage!r}); --ann needs an "
                             f"ANN entry or a saved-model folder")
    return reg.load(entry), entry, args.dataset or entry.params.get("dataset") or "digits"


def load_snn(args: argparse.Namespace):
    """(source for the adapters, registry or None, parent entry or None, dataset, name) from a
    spec folder, a NIR file or a registry ref in ``args.snn``."""
    from leanspike.spec import SPEC_FILE, load_spec

    if Path(args.snn).is_dir() and (Path(args.snn) / SPEC_FILE).is_file():
        reg = open_registry(args) if args.registry else None
        return load_spec(args.snn), reg, None, args.dataset or "digits", args.name
    if Path(args.snn).suffix == ".nir":  # a NIR file from any tool, through its adapter
        from leanspike.adapters.nir import read_nir

        reg = open_registry(args) if args.registry else None
        return read_nir(args.snn), reg, None, args.dataset or "digits", args.name
    reg = open_registry(args)
    entry = reg.get(args.snn)
    if entry.kind != "snn":
        raise LeanspikeError(f"{entry.ref} is an ANN; convert it first (leanspike convert)")
    dataset = args.dataset or dataset_of(reg, entry) or "digits"
    return entry, reg, entry, dataset, args.name or entry.name
