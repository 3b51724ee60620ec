"""DNN-to-SNN conversion at low latency: every converter at every T, and a peer beside them.

    python benchmarks/conversion.py --out benchmarks/results/conversion.json [--seeds 3]
    python benchmarks/conversion.py --dataset cifar10 --arch vgg16 --data-dir DIR --device cuda

Per seed, three ANNs of the same architecture are trained: ReLU (for `max`, `percentile` and the
SpikingJelly peer), trainable clipped ReLU (for `datta`) and QCFS (for `qcfs`). Each converter
runs at every T without fine-tuning, and at T=2 also with fine-tuning. Figures are medians over
seeds; `accuracies` holds every seed's value. The peer is SpikingJelly's ann2snn Converter
(max and 99.9% modes) on the same ReLU ANN, run for T steps with its IF neurons.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_common_arguments,
    median,
    seed_splits,
    trained_ann,
    write_result,
)

from leanspike.adapters.snntorch import (  # noqa: E402
    FinetuneConfig,
    evaluate_snn,
    finetune,
    to_snntorch,
    to_spec,
)
from leanspike.convert import convert  # noqa: E402
from leanspike.convert.calibration import collect_stats  # noqa: E402
from leanspike.convert.chain import read_chain  # noqa: E402
from leanspike.energy import estimate  # noqa: E402
from leanspike.training import resolve_device  # noqa: E402

ANN_FOR = {"max": "relu", "percentile": "relu", "datta": "clip", "qcfs": "qcfs"}


def spikingjelly_peer(ann, splits, timesteps, device):
    """Accuracy of SpikingJelly's ann2snn conversion of ``ann`` for each T in ``timesteps``."""
    from spikingjelly.activation_based import ann2snn, functional

    out = {}
    for mode in ("max", "99.9%"):
        loader = DataLoader(splits.train, batch_size=256)
        snn = ann2snn.Converter(dataloader=loader, mode=mode, device=device)(
            copy.deepcopy(ann).eval()).to(device)
        for T in timesteps:
            correct = total = 0
            with torch.no_grad():
                for x, y in DataLoader(splits.test, batch_size=512):
                    functional.reset_net(snn)
                    x = x.to(device)
                    logits = sum(snn(x) for _ in range(T))
                    correct += int((logits.argmax(1).cpu() == y).sum())
                    total += int(y.numel())
            out[(f"spikingjelly_{mode.replace('%', '')}", T)] = correct / total
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, "conversion.json")
    parser.add_argument("--lr", type=float, default=0.1, help="ANN learning rate (SGD)")
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--timesteps", default="1,2,4,8,16,32")
    parser.add_argument("--qcfs-levels", type=int, default=4)
    parser.add_argument("--methods", default="max,percentile,datta,qcfs")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    timesteps = [int(t) for t in args.timesteps.split(",")]
    methods = args.methods.split(",")
    results: dict[tuple, list[dict]] = {}
    ann_acc: dict[str, list[float]] = {}
    start = time.perf_counter()
    for seed in range(args.seeds):
        splits = seed_splits(args)
        anns = {}
        for activation in sorted({ANN_FOR[m] for m in methods} | {"relu"}):
            act_args = {"levels": args.qcfs_levels} if activation == "qcfs" else None
            anns[activation], accuracy = trained_ann(args, splits, seed, activation=activation,
                                                     activation_args=act_args, lr=args.lr)
            ann_acc.setdefault(activation, []).append(accuracy)
            print(f"seed {seed}: {activation} ANN {accuracy:.4f}", flush=True)
        for method in methods:
            ann = anns[ANN_FOR[method]]
            stats = collect_stats(read_chain(ann), splits.train)
            for T in timesteps:
                spec, _ = convert(ann, splits.train, method=method, timesteps=T, stats=stats)
                net = to_snntorch(spec, surrogate="rectangular")
                ev = evaluate_snn(net, splits.test, device=device)
                energy = estimate(spec, ev.spikes_per_neuron)
                results.setdefault((method, T, False), []).append(
                    {"accuracy": ev.accuracy, "energy_ratio": energy.ratio,
                     "spikes_per_inference": energy.spikes_per_inference})
                if T == 2 and args.finetune_epochs:
                    finetune(net, splits.train, FinetuneConfig(
                        epochs=args.finetune_epochs, lr=args.finetune_lr, seed=seed,
                        device=str(device)), progress=False)
                    ev = evaluate_snn(net, splits.test, device=device)
                    energy = estimate(to_spec(net.cpu()), ev.spikes_per_neuron)
                    results.setdefault((method, T, True), []).append(
                        {"accuracy": ev.accuracy, "energy_ratio": energy.ratio,
                         "spikes_per_inference": energy.spikes_per_inference})
            print(f"seed {seed}: {method} done", flush=True)
        if not args.no_peer:
            for (name, T), acc in spikingjelly_peer(anns["relu"], splits, timesteps,
                                                    device).items():
                results.setdefault((name, T, False), []).append(
                    {"accuracy": acc, "energy_ratio": None, "spikes_per_inference": None})
    records = []
    for (method, T, tuned), runs in results.items():
        accs = [r["accuracy"] for r in runs]
        ratios = [r["energy_ratio"] for r in runs if r["energy_ratio"] is not None]
        spikes = [r["spikes_per_inference"] for r in runs if r["spikes_per_inference"] is not None]
        records.append({
            "method": method, "T": T, "finetuned": tuned, "accuracy": median(accs),
            "accuracies": accs, "ann": ANN_FOR.get(method, "relu"),
            "energy_ratio": median(ratios) if ratios else None,
            "spikes_per_inference": median(spikes) if spikes else None,
        })
    payload = {
        "dataset": args.dataset, "arch": args.arch, "seeds": args.seeds,
        "ann_epochs": args.ann_epochs, "finetune_epochs": args.finetune_epochs,
        "finetune_lr": args.finetune_lr, "qcfs_levels": args.qcfs_levels,
        "ann_relu_accuracy": median(ann_acc["relu"]),
        "ann_accuracy": {k: median(v) for k, v in ann_acc.items()},
        "energy_model": "45nm FP32 (Horowitz 2014): MAC 4.6 pJ, AC 0.9 pJ",
        "seconds": time.perf_counter() - start,
        "records": records,
    }
    path = write_result(args.out, "conversion", payload)
    for r in sorted(records, key=lambda r: (r["method"], r["finetuned"], r["T"])):
        print(f"{r['method']:22s} T={r['T']:2d} {'ft' if r['finetuned'] else '  '} "
              f"acc {r['accuracy']:.4f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
