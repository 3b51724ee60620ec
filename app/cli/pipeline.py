"""``leanspike pipeline``: the whole flow from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_pipeline(args: argparse.Namespace) -> int:
    from leanspike import distributed
    from leanspike.app.pipeline import dump_config, load_config, run_pipeline, write_summary
    from leanspike.app.pipeline.report import summary_table, write_plots
    from leanspike.registry import Registry

    overrides = {k: getattr(args, k) for k in ("dataset", "arch", "seed", "device", "name")
                 if getattr(args, k) is not None}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    config = load_config(args.config, quick=args.quick, overrides=overrides)
    registry = Registry(args.registry)
    out = Path(args.out or f"runs/pipeline-{config.run_name}")
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        dump_config(config, out / "config.toml")
    print(f"pipeline {config.run_name}: registry {registry.path}, run folder {out}")
    result = run_pipeline(config, registry, progress=not args.no_progress)
    if not distributed.is_main():  # rank 0 writes the run folder
        return 0
    print()
    print(summary_table(result))
    summary = write_summary(result, out)
    result.final_spec.save(out / "deployed_spec")
    plots = write_plots(result, out)
    print(f"\n{len(result.stages)} stages in {result.seconds:.1f} s. Run folder {out}: "
          f"{summary.name}, config.toml, deployed_spec/, " + ", ".join(p.name for p in plots))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser(
        "pipeline", help="the whole flow: ANN -> SNN at T=2 -> T=1 -> pruned -> Loihi fixed "
                         "point -> Lava, every stage registered (resumes from the registry)")
    p.add_argument("--dataset", help="default digits (or the config file's)")
    p.add_argument("--arch", help="zoo architecture (default small_cnn; resnet20 converts a "
                                  "residual ANN), or sew_resnet: a residual SNN trained directly")
    p.add_argument("--config", metavar="FILE", help="TOML settings (a run folder's config.toml "
                                                    "repeats that run)")
    p.add_argument("--registry", metavar="PATH",
                   help="registry folder (default $LEANSPIKE_REGISTRY or the user data folder)")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/pipeline-NAME)")
    p.add_argument("--quick", action="store_true",
                   help="a tiny network and a few epochs per stage: seconds, for a first look")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--name", help="registry name (default DATASET-ARCH)")
    p.add_argument("--data-dir", help="local folder for mnist/cifar10/cifar100")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pipeline)
