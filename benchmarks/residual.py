"""Residual networks against the small CNN on digits: T=2, T=1, pruned to 95%, on Lava.

    python benchmarks/residual.py [--archs small_cnn,resnet20,sew_resnet] [--seeds 1]
                                  [--dataset digits] [--data-dir DIR] [--device auto]
                                  [--out benchmarks/results/residual.json]

Per architecture and seed, ``leanspike pipeline`` with its default settings except the sweep
(one pruning target, 95%) in a fresh registry: ``small_cnn`` and ``resnet20`` are ANNs
converted at T=2 (datta, fine-tuned); ``sew_resnet`` is a SEW ResNet (ADD) trained directly
with surrogate gradients and batch norm on its currents. Then IIR to T=1, Grad R to 95%,
Loihi 2 fixed point (after ``--grid-epochs`` epochs per layer of fine-tuning onto its weight
grid, if any) and Lava (``lava-fixed``, every test sample). On 8x8 digits ``resnet20``
keeps its 3 stages of 3 blocks at widths 8-16-32 (``--resnet20-widths``; CIFAR's are
16-32-64). Recorded per stage: accuracy, SynOps per inference, parameters (live synapses
and all weights, as pruned), and on Lava the agreement with the fixed-point emulation (bit
for bit), with the snapped snnTorch twin and with the float network before fixed point.
``--dataset mnist5k`` runs the same on the 5,000 real MNIST images (28x28);
``--dataset cifar10 --data-dir DIR --device cuda`` on CIFAR-10 (unmeasured here: no GPU, no
data). ``python benchmarks/report.py`` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, median, write_result  # noqa: E402

from leanspike.app.pipeline import load_config, run_pipeline  # noqa: E402
from leanspike.registry import Registry  # noqa: E402

ARCHS = ("small_cnn", "resnet20", "sew_resnet")
# the pipeline's stage names (StageRecord.stage prefixes) -> the benchmark's column keys
STAGES = (("ANN (ReLU", "ann_relu"), ("ANN (", "ann"), ("converted", "T2"),
          ("SNN trained directly", "T2"), ("retrained", "T1"), ("pruned", "pruned"),
          ("on the weight grid", "grid"), ("Loihi 2 fixed point", "fixed"), ("on Lava", "lava"))


def run_arch(arch: str, seed: int, folder: Path, args) -> dict:
    overrides = {"dataset": args.dataset, "data_dir": args.data_dir, "arch": arch,
                 "seed": seed, "device": args.device, "name": arch,
                 "prune": {"target_sparsity": args.sparsity, "sweep": []},
                 "deploy": {"limit": args.limit},
                 "fixed_point": {"epochs_per_layer": args.grid_epochs}}
    if arch == "resnet20":
        overrides["model"] = {"widths": [int(w) for w in args.resnet20_widths.split(",")]}
    config = load_config(quick=args.quick, overrides=overrides)
    registry = Registry(folder / f"registry-{arch}-{seed}")
    result = run_pipeline(config, registry, progress=False, log=lambda line: None)
    record: dict = {"arch": arch, "seed": seed, "seconds": result.seconds}
    for stage in result.stages:
        key = next(k for prefix, k in STAGES if stage.stage.startswith(prefix))
        record[key] = stage.accuracy
        if stage.synaptic_ops is not None:
            record[f"{key}_synops"] = stage.synaptic_ops
        if key == "pruned":
            record["sparsity"] = stage.sparsity
            pruned = registry.load(stage.entry)
        if key == "lava":
            record["lava_twin_agreement"] = stage.lava_agreement
            record["lava_float_agreement"] = stage.extra["float_agreement"]
            record["lava_emulation_agreement"] = stage.extra["emulation_agreement"]
            if stage.extra.get("tied_outputs") is not None:
                record["lava_tied_outputs"] = stage.extra["tied_outputs"]
                record["lava_twin_untied_agreement"] = stage.extra["untied_agreement"]
    # the network's size as pruned (the deployed twin of a graph has a weighted node per
    # synapse group: copies of the layers after a SEW sum, identity shortcuts)
    spec = pruned
    weights = [layer for _, layer in spec.weighted_layers()]
    record.update(
        graph=spec.is_graph, populations=len(spec.neuron_layers()),
        params=sum(int(w.weight.numel()) for w in weights),
        live_synapses=sum(int(w.weight.numel() if w.mask is None else w.mask.sum())
                          for w in weights))
    print(f"{arch} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in record.items()
                                              if isinstance(v, float)), flush=True)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "residual.json"))
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sparsity", type=float, default=0.95)
    parser.add_argument("--limit", type=int, default=0, help="Lava test samples (0: all)")
    parser.add_argument("--resnet20-widths", default="8,16,32")
    parser.add_argument("--quick", action="store_true", help="the pipeline's --quick settings")
    parser.add_argument("--grid-epochs", type=int, default=0,
                        help="epochs per layer of fine-tuning onto the Loihi weight grid "
                             "before fixed point (0: none, the pipeline's default)")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        records = [run_arch(arch, seed, Path(folder), args) for arch in args.archs.split(",")
                   for seed in range(args.seeds)]
    keys = sorted({k for r in records for k, v in r.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"})
    summary = [{"arch": arch, **{f"{k}_median": median([r[k] for r in records
                                                        if r["arch"] == arch and k in r])
                                 for k in keys if any(k in r for r in records
                                                      if r["arch"] == arch)}}
               for arch in dict.fromkeys(r["arch"] for r in records)]
    path = write_result(args.out, "residual", {
        "seeds": args.seeds, "quick": args.quick, "dataset": args.dataset,
        "sparsity": args.sparsity, "resnet20_widths": args.resnet20_widths,
        "grid_epochs": args.grid_epochs,
        "records": records, "summary": summary,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]}})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
