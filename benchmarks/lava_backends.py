"""Lava deployment: accuracy, agreement with snnTorch and speed of every back-end, in one run.

    python benchmarks/lava_backends.py --out benchmarks/results/lava.json [--repeats 3]

A ReLU small CNN is trained on digits, converted with ``datta`` at T=2 and fine-tuned, then
retrained at T=1 (IIR's last stage). Each network runs the whole test set on: snnTorch (the
reference), Lava per-layer float and fixed point, the single-process Lava model (float and
fixed), the torch fixed-point emulation, and lava-dl netx's own Network from the exported HDF5.
``agreement`` is the fraction of test samples whose prediction equals snnTorch's float one;
fixed-point runs also give ``agreement_emulation`` (equal integer outputs to the emulation).
Speeds are medians over ``--repeats`` runs on this machine; every figure is measured for each
of ``--seeds`` seeds (ANN training, conversion and retraining) and summarised by medians.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

add_common_arguments, median, seed_splits = (common.add_common_arguments, common.median,
                                             common.seed_splits)
trained_ann, write_result = common.trained_ann, common.write_result

import torch  # noqa: E402

from leanspike.adapters.snntorch import to_snntorch  # noqa: E402
from leanspike.adapters.snntorch.conversion import convert  # noqa: E402
from leanspike.adapters.snntorch.retraining import retrain  # noqa: E402
from leanspike.loihi import emulate_fixed  # noqa: E402


def _stack(dataset):
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.tensor(ys)


def _timed(fn, repeats: int):
    """(last result, median seconds) of ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, median(times)


def measure(name: str, spec, x, y, x_train, repeats: int, workdir: Path) -> list[dict]:
    from leanspike.adapters.lava import prepare, run
    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import NetxApproximationWarning, write_netx

    T = spec.timesteps
    n = len(x)
    snn = to_snntorch(spec).eval()
    with torch.no_grad():
        ref, seconds = _timed(lambda: snn.run(x), repeats)
    ref_pred = ref.logits.argmax(1)
    ref_counts = {i: s.sum((0, 1)).to(torch.int64) for i, s in ref.spikes.items()}
    records = [{"network": name, "backend": "snntorch", "T": T,
                "accuracy": float((ref_pred == y).float().mean()), "agreement": 1.0,
                "samples_per_s": n / seconds}]

    def record(backend, result, seconds, **extra):
        pred = result.predictions if hasattr(result, "predictions") else result
        records.append({"network": name, "backend": backend, "T": T,
                        "accuracy": float((pred == y).float().mean()),
                        "agreement": float((pred == ref_pred).float().mean()),
                        "samples_per_s": n / seconds, **extra})
        print(f"{name} T={T} {backend:16s} accuracy {records[-1]['accuracy']:.4f} agreement "
              f"{records[-1]['agreement']:.4f} {records[-1]['samples_per_s']:8.1f} samples/s "
              + " ".join(f"{k}={v}" for k, v in extra.items()), flush=True)

    float_net = prepare(spec)
    for backend in ("lava_float", "lava_fast_float"):
        out, seconds = _timed(lambda b=backend: run(spec, x, b.replace("_", "-"),
                                                    deployed=float_net), repeats)
        equal = all(torch.equal(out.spike_counts[i], c) for i, c in ref_counts.items())
        record(backend, out, seconds, spike_counts_equal=equal,
               spikes_per_neuron=out.spikes_per_neuron())

    fixed_net = prepare(spec, fixed=True, calibration=x_train)
    (emulated, raw), seconds = _timed(lambda: emulate_fixed(fixed_net.fixed, x), repeats)
    emu_pred = emulated.output.argmax(1)
    record("torch_fixed_emulation", emu_pred, seconds,
           quantisation=[q.as_dict() for q in fixed_net.fixed.report])
    for backend in ("lava_fixed", "lava_fast_fixed"):
        out, seconds = _timed(lambda b=backend: run(spec, x, b.replace("_", "-"),
                                                    deployed=fixed_net), repeats)
        same = (out.raw_output == raw).flatten(1).all(1)
        record(backend, out, seconds, agreement_emulation=float(same.float().mean()))

    path = workdir / f"{name}.net"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NetxApproximationWarning)
        write_netx(fixed_net.fixed, path)
    approximated = [str(w.message) for w in caught
                    if issubclass(w.category, NetxApproximationWarning)]
    out, seconds = _timed(lambda: run_netx(path, x), repeats)
    same = (out.raw_output == raw).flatten(1).all(1)
    record("netx", out, seconds, agreement_emulation=float(same.float().mean()),
           netx_exact=not approximated, netx_notes=approximated)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, "lava.json")
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--retrain-epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, help="test samples to run (default: all)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    splits = seed_splits(args)
    x_all, y_all = _stack(splits.test)
    x_train, _ = _stack(splits.train)
    x, y = (x_all[: args.limit], y_all[: args.limit]) if args.limit else (x_all, y_all)
    records, ann_accuracy, names = [], {}, ("converted_T2", "retrained_T1")
    for seed in range(args.seeds):
        ann, ann_accuracy[seed] = trained_ann(args, splits, seed)
        converted = convert(ann, splits, method="datta", timesteps=2,
                            finetune_epochs=args.finetune_epochs, progress=False)
        retrained = retrain(converted.spec, splits.train, splits.test, schedule=(1,),
                            epochs_per_stage=args.retrain_epochs, seed=seed, progress=False)
        networks = dict(zip(names, (converted.spec, retrained.final.spec)))
        with tempfile.TemporaryDirectory() as tmp:
            for name, spec in networks.items():
                records += [{"seed": seed, **r}
                            for r in measure(name, spec, x, y, x_train, args.repeats, Path(tmp))]
    speedups = {}
    for name in names:
        per_seed = []
        for seed in range(args.seeds):
            by = {r["backend"]: r for r in records if r["network"] == name and r["seed"] == seed}
            per_seed.append({
                "fast_fixed_vs_netx": by["lava_fast_fixed"]["samples_per_s"]
                / by["netx"]["samples_per_s"],
                "fast_float_vs_per_layer_float": by["lava_fast_float"]["samples_per_s"]
                / by["lava_float"]["samples_per_s"],
                "quantisation_loss_points": 100 * (by["lava_float"]["accuracy"]
                                                   - by["lava_fixed"]["accuracy"]),
            })
        speedups[name] = {k: median([s[k] for s in per_seed]) for k in per_seed[0]}
        speedups[name]["quantisation_loss_points_per_seed"] = [
            s["quantisation_loss_points"] for s in per_seed]
        print(name, {k: v for k, v in speedups[name].items()})
    payload = {"dataset": args.dataset, "arch": args.arch, "seeds": args.seeds,
               "ann_relu_accuracy": median(list(ann_accuracy.values())),
               "test_samples": len(x), "repeats": args.repeats,
               "finetune_epochs": args.finetune_epochs, "retrain_epochs": args.retrain_epochs,
               "speedups": speedups, "seconds": time.perf_counter() - start,
               "records": records}
    path = write_result(args.out, "lava", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
