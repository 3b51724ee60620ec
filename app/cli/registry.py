"""``leanspike registry``: list, inspect, verify, tag, export and import registry entries."""

from __future__ import annotations

import argparse
import json

from leanspike.app.cli.common import open_registry, registry_options
from leanspike.app.tables import format_table


def _accuracy(entry) -> str:
    for key in ("accuracy", "test_accuracy"):
        if isinstance(entry.metrics.get(key), (int, float)):
            return f"{entry.metrics[key]:.4f}"
    return "-"


def _entry_rows(entries) -> list[list]:
    return [[e.ref, e.stage, e.kind, e.timesteps or "-", e.parent or "-", _accuracy(e),
             ",".join(e.tags) or "-", e.created[:19].replace("T", " ")] for e in entries]


_ENTRY_HEADERS = ["entry", "stage", "kind", "T", "parent", "accuracy", "tags", "created (UTC)"]


def cmd_registry_list(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    entries = reg.list(name=args.name, stage=args.stage, tag=args.tag, kind=args.kind)
    if not entries:
        print(f"no entries in {reg.path}" + (" matching the filters" if any(
            (args.name, args.stage, args.tag, args.kind)) else ""))
        return 0
    print(format_table(_ENTRY_HEADERS, _entry_rows(entries)))
    return 0


def cmd_registry_show(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    e = reg.get(args.ref)
    rows = [["entry", e.ref], ["stage", e.stage], ["kind", e.kind],
            ["time steps", e.timesteps or "-"], ["parent", e.parent or "-"],
            ["created (UTC)", e.created], ["tags", ", ".join(e.tags) or "-"]]
    if e.origin:
        rows.append(["imported from", e.origin])
    rows += [[f"metric {k}", v] for k, v in sorted(e.metrics.items())]
    rows += [[f"param {k}", json.dumps(v)] for k, v in sorted(e.params.items())]
    rows += [[f"artifact {role}", f"sha256 {sha}"] for role, sha in sorted(e.artifacts.items())]
    children = reg.children(e)
    rows.append(["children", ", ".join(c.ref for c in children) or "-"])
    print(format_table(["field", "value"], rows))
    return 0


def cmd_registry_lineage(args: argparse.Namespace) -> int:
    chain = list(reversed(open_registry(args).lineage(args.ref)))
    rows = [[i, *row] for i, row in enumerate(_entry_rows(chain))]
    print(format_table(["depth", *_ENTRY_HEADERS], rows))
    return 0


def cmd_registry_verify(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    report = reg.verify()
    if report.ok:
        print(f"{reg.path}: {report.entries_checked} entries checked, every artifact intact"
              + (f" ({report.unreferenced_files} unreferenced file(s); `leanspike registry gc` "
                 f"removes them)" if report.unreferenced_files else ""))
        return 0
    print(format_table(["entry", "artifact", "file", "problem"], report.problems))
    print(f"{len(report.problems)} problem(s) in {report.entries_checked} entries")
    return 1


def cmd_registry_rm(args: argparse.Namespace) -> int:
    removed = open_registry(args).delete(args.ref, force=args.force)
    print("removed " + ", ".join(e.ref for e in removed))
    return 0


def cmd_registry_tag(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    entry = reg.untag(args.ref, *args.tags) if args.remove else reg.tag(args.ref, *args.tags)
    print(f"{entry.ref}: tags {', '.join(entry.tags) or '-'}")
    return 0


def cmd_registry_export(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    chain = reg.lineage(args.ref)
    path = reg.export(args.ref, args.file)
    print(f"exported {chain[0].ref} with {len(chain) - 1} ancestor(s) to {path}")
    return 0


def cmd_registry_import(args: argparse.Namespace) -> int:
    reg = open_registry(args)
    entry = reg.import_archive(args.file)
    chain = " <- ".join(e.ref for e in reg.lineage(entry))
    print(f"imported {args.file}: {entry.ref} (lineage {chain})")
    return 0


def cmd_registry_gc(args: argparse.Namespace) -> int:
    removed = open_registry(args).gc(grace_seconds=args.grace)
    print(f"removed {len(removed)} unreferenced artifact file(s)")
    return 0


def add_commands(sub) -> None:
    common = registry_options()
    reg = sub.add_parser("registry", help="the model registry shared by training and deployment")
    rsub = reg.add_subparsers(dest="registry_command", metavar="ACTION")
    rsub.required = True
    p = rsub.add_parser("list", parents=[common], help="list entries")
    for flag in ("--name", "--stage", "--tag", "--kind"):
        p.add_argument(flag)
    p.set_defaults(func=cmd_registry_list)
    for name, fn, text in (("show", cmd_registry_show, "one entry in full"),
                           ("lineage", cmd_registry_lineage, "an entry's chain up to the root")):
        p = rsub.add_parser(name, parents=[common], help=text)
        p.add_argument("ref", help="name, name:VERSION, name@latest or name@STAGE")
        p.set_defaults(func=fn)
    rsub.add_parser("verify", parents=[common], help="re-hash every artifact").set_defaults(
        func=cmd_registry_verify)
    p = rsub.add_parser("rm", parents=[common], help="delete an entry")
    p.add_argument("ref")
    p.add_argument("--force", action="store_true", help="also delete its descendants")
    p.set_defaults(func=cmd_registry_rm)
    p = rsub.add_parser("tag", parents=[common], help="add (or --remove) tags")
    p.add_argument("ref")
    p.add_argument("tags", nargs="+")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=cmd_registry_tag)
    p = rsub.add_parser("export", parents=[common], help="write an entry and its lineage to FILE")
    p.add_argument("ref")
    p.add_argument("file")
    p.set_defaults(func=cmd_registry_export)
    p = rsub.add_parser("import", parents=[common], help="add the entries of an exported FILE")
    p.add_argument("file")
    p.set_defaults(func=cmd_registry_import)
    p = rsub.add_parser("gc", parents=[common], help="delete unreferenced artifact files")
    p.add_argument("--grace", type=float, default=3600.0,
                   help="keep files younger than this many seconds (default 3600)")
    p.set_defaults(func=cmd_registry_gc)
