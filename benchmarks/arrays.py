"""Data that is not images through every stage: two scikit-learn tables and a 1-D signal task.

    python benchmarks/arrays.py [--seeds 3] [--tasks wine,breast-cancer,waveforms]
                                [--out benchmarks/results/arrays.json]

Per task and seed, ``leanspike pipeline`` with its default settings (a fresh registry): wine
(13 features, 3 classes) and breast cancer (30 features, 2 classes), each saved as an ``.npz``
of a fixed stratified 75/25 split and read with ``--dataset npz:FILE``, with the zoo's ``mlp``;
``waveforms`` (1 x 64 signals, 3 classes, built offline) with the 1-D CNN ``signal_cnn``.
Recorded per stage: ANN, converted (T=2), IIR (T=1), Grad R pruned to 90%, the Loihi 2
fixed-point twin, and Lava (``lava-fixed``, every test sample) with its agreement with the
twin. Medians over seeds; ``python benchmarks/report.py`` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, median, write_result  # noqa: E402

from leanspike.app.pipeline import load_config, run_pipeline  # noqa: E402
from leanspike.registry import Registry  # noqa: E402

EXAMPLE = runpy.run_path(str(HERE.parent / "examples" / "your_own_arrays.py"))
TASKS = {"wine": "mlp", "breast-cancer": "mlp", "waveforms": "signal_cnn"}
# the pipeline's stage names (StageRecord.stage prefixes) -> the benchmark's column keys
STAGES = (("ANN (ReLU", "ann_relu"), ("ANN (", "ann"), ("converted", "converted_T2"),
          ("retrained", "retrained_T1"), ("pruned", "pruned"),
          ("Loihi 2 fixed point", "fixed_twin"), ("on Lava", "lava_fixed"))


def run_task(task: str, seed: int, folder: Path, args) -> dict:
    if task in EXAMPLE["TABULAR"]:
        dataset = f"npz:{EXAMPLE['save_npz'](task, folder / f'{task}.npz')}"
    else:
        dataset = task
    overrides = {"dataset": dataset, "arch": TASKS[task], "seed": seed, "name": task,
                 "deploy": {"limit": 0}}
    if args.quick:
        config = load_config(quick=True, overrides={**overrides, "deploy": {"limit": 0}})
    else:
        config = load_config(overrides=overrides)
    result = run_pipeline(config, Registry(folder / f"registry-{task}-{seed}"), progress=False,
                          log=lambda line: None)
    record: dict = {"task": task, "seed": seed, "arch": TASKS[task],
                    "seconds": result.seconds}
    for stage in result.stages:
        key = next(k for prefix, k in STAGES if stage.stage.startswith(prefix))
        record[key] = stage.accuracy
        if key == "pruned":
            record.update(sparsity=stage.sparsity, synaptic_ops=stage.synaptic_ops)
        if key == "lava_fixed":
            record["lava_agreement"] = stage.lava_agreement
    spec = result.final_spec
    record.update(classes=spec.output_shape[0], input_shape=list(spec.input_shape),
                  params=sum(int(layer.weight.numel()) for _, layer in spec.weighted_layers()))
    print(f"{task} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                                              if isinstance(v, float)), flush=True)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "arrays.json"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--quick", action="store_true", help="the pipeline's --quick settings")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        records = [run_task(task, seed, Path(folder), args) for task in args.tasks.split(",")
                   for seed in range(args.seeds)]
    keys = [k for k, v in records[0].items() if isinstance(v, float)]
    summary = [{"task": task, **{f"{k}_median": median([r[k] for r in records
                                                         if r["task"] == task])
                                 for k in keys}}
               for task in dict.fromkeys(r["task"] for r in records)]
    path = write_result(args.out, "arrays", {
        "seeds": args.seeds, "quick": args.quick, "records": records, "summary": summary,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]}})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
