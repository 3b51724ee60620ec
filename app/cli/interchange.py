"""``leanspike export`` and ``leanspike import``: a network to a file other tools read (NIR, or
the netx file lava-dl loads), and a NIR file from any tool into the registry as a new root
entry whose params say where it came from."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from leanspike.app.cli.common import DATA_DIR_HELP, dataset_of, registry_options
from leanspike.errors import ConfigError

FORMATS = ("nir", "netx")
IMPORTED_STAGE = "imported"


def _nir():
    """The NIR adapter, or an error the CLI prints in one line when the nir extra is missing."""
    try:
        import leanspike.adapters.nir as adapter
    except ImportError as exc:
        raise ConfigError(str(exc)) from exc
    return adapter


def _source(args: argparse.Namespace):
    """(spec, (registry, entry) or None) for REF: a registry reference, a spec folder or a NIR
    file."""
    from leanspike.registry import Registry, resolve_spec
    from leanspike.spec import SPEC_FILE

    ref = Path(args.ref)
    if ref.suffix == ".nir":
        return _nir().read_nir(ref), None
    if (ref.is_dir() and (ref / SPEC_FILE).is_file()):
        return resolve_spec(args.ref), None
    reg = Registry(args.registry)
    entry = reg.get(args.ref)
    return resolve_spec(entry), (reg, entry)


def _print_warnings(caught) -> list[str]:
    notes = [str(w.message) for w in caught]
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return notes


def _write_netx(spec, out: Path, args, found) -> Path:
    import torch

    from leanspike.adapters.netx import write_netx
    from leanspike.data import load_dataset
    from leanspike.loihi import fixed_point as fx
    from leanspike.loihi import to_stages

    dataset = args.dataset or (dataset_of(*found) if found else None) or "digits"
    splits = load_dataset(dataset, args.data_dir, seed=args.split_seed)
    calibration = torch.stack([splits.train[i][0] for i in range(len(splits.train))])
    fixed = fx.quantize(to_stages(spec), calibration, timesteps=spec.timesteps)
    return write_netx(fixed, out)


def cmd_export(args: argparse.Namespace) -> int:
    spec, found = _source(args)
    out = Path(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.format == "nir":
            path = _nir().write_nir(spec, out, dt=args.dt, strict=not args.lenient)
        else:
            path = _write_netx(spec, out, args, found)
    notes = _print_warnings([w for w in caught if issubclass(w.category, UserWarning)])
    what = found[1].ref if found else args.ref
    print(f"exported {what} as {args.format} to {path}"
          + (f" ({len(notes)} approximation(s), see the warnings)" if notes else " (exact)"))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    adapter = _nir()
    import nir

    from leanspike.adapters.nir.files import file_sha256
    from leanspike.adapters.nir.ingest import resolve_dt
    from leanspike.registry import Registry, register_stage

    path = Path(args.file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = adapter.read_nir(path, dt=args.dt, timesteps=args.timesteps)
    _print_warnings([w for w in caught if issubclass(w.category, UserWarning)])
    params = {"imported_from": str(path.resolve()), "format": "nir",
              "sha256": file_sha256(path), "nir_version": nir.__version__,
              "dt": resolve_dt(adapter.read_graph(path), args.dt)}
    if args.dataset:
        params["dataset"] = args.dataset
    reg = Registry(args.registry)
    entry = register_stage(reg, args.name or path.stem, spec, stage=IMPORTED_STAGE,
                           params=params)
    kinds = ", ".join(type(layer).__name__ for layer in spec.layers)
    print(f"imported {path} as {entry.ref} (T={spec.timesteps}, dt={params['dt']:g}): {kinds}")
    return 0


def add_commands(sub) -> None:
    try:
        from leanspike.adapters.nir import DEFAULT_DT
    except ImportError:  # without the nir extra: the commands say so when run
        DEFAULT_DT = None  # noqa: N806

    p = sub.add_parser("export", parents=[registry_options()],
                       help="write a network as a NIR file (other tools) or a netx file "
                            "(lava-dl)")
    p.add_argument("ref", help="registry reference, spec folder or .nir file")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--lenient", action="store_true",
                   help="nir: approximate what NIR cannot say (subtractive reset, v_init, max "
                        "pooling) with a warning, instead of refusing it")
    p.add_argument("--dt", type=float, default=DEFAULT_DT,
                   help="nir: the time step the time constants are written for "
                        "(default %(default)s, snnTorch's)")
    p.add_argument("--dataset", help="netx: calibrates the input encoding (default: the "
                                     "dataset recorded with the network)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--split-seed", type=int, default=0)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", parents=[registry_options()],
                       help="register a NIR file from any tool as a new root entry")
    p.add_argument("file", help="a .nir file")
    p.add_argument("--name", help="entry name (default: the file's name without .nir)")
    p.add_argument("--dt", type=float,
                   help="the step to read its time constants at (default: the graph's, or the "
                        "one its neurons imply)")
    p.add_argument("--timesteps", type=int,
                   help="time steps per sample (default: the graph's leanspike metadata, "
                        "else 1)")
    p.add_argument("--dataset", help="the dataset it runs on, recorded for later stages")
    p.set_defaults(func=cmd_import)
