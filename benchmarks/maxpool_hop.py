"""What max pooling costs on Lava: the pooling population's extra synaptic hop, in time steps
and samples/s, against the same network with average pooling (folded, no population).

    python benchmarks/maxpool_hop.py --out benchmarks/results/maxpool_hop.json [--limit 100]

A CNN with max pooling (conv-ReLU-max, twice) is trained on digits and converted with ``datta``
at T=1 and T=2. Its twin has AvgPool2d where the MaxPool2d were, the same weights and neurons:
the average pools fold into the next layer's weights, so the twin has two stages fewer and is
what the network would cost without pooling populations. Both stream the first ``--limit``
test samples on every Lava back-end; the max-pooled runs are checked spike for spike (float:
against the reference, fixed point: bit for bit against the emulation). Speeds are medians of
``--repeats`` rounds on this machine (the two networks take turns in each), with Lava's
start-up (compiling, forking the processes) and without it (from the difference to a run over
a fifth of the samples).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

RESULTS, median, write_result = common.RESULTS, common.median, common.write_result

import torch  # noqa: E402
from torch import nn  # noqa: E402

from leanspike import spec as S  # noqa: E402
from leanspike.activations import ClippedReLU  # noqa: E402
from leanspike.convert import convert  # noqa: E402
from leanspike.data import load_dataset  # noqa: E402
from leanspike.loihi import emulate_fixed, to_stages  # noqa: E402
from leanspike.reference import simulate  # noqa: E402
from leanspike.training import TrainConfig, set_seed, train_ann  # noqa: E402

BACKENDS = ("lava-float", "lava-fixed", "lava-fast-float", "lava-fast-fixed")


def max_pooled_cnn(channels: tuple[int, int]) -> nn.Sequential:
    a, b = channels
    return nn.Sequential(nn.Conv2d(1, a, 3, padding=1), ClippedReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(a, b, 3, padding=1), ClippedReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(b * 4, 10))


def average_twin(spec: S.NetworkSpec) -> S.NetworkSpec:
    """The same network with average pooling where it has max pooling."""
    layers = [S.AvgPool2d(layer.kernel_size, layer.stride) if isinstance(layer, S.MaxPool2d)
              else layer for layer in spec.layers]
    return dataclasses.replace(spec, layers=layers).validate()


def _seconds(spec, x, backend, deployed) -> tuple[object, float]:
    """One run keeping spike counts only (reading every recorded spike back from Lava costs
    more than running the network): (LavaRun, wall seconds)."""
    from leanspike.adapters.lava import run

    start = time.perf_counter()
    out = run(spec, x, backend, deployed=deployed)
    return out, time.perf_counter() - start


def measure(networks: dict[str, S.NetworkSpec], x, y, x_train, repeats: int) -> list[dict]:
    """Per back-end and network: one recorded run over all of ``x``, checked spike for spike;
    then ``repeats`` rounds of timed runs over all of ``x`` and over a fifth of it, the
    networks taking turns within each round so that a busy machine slows both alike. The
    difference of the two medians is the steady cost per sample, without Lava's start-up."""
    from leanspike.adapters.lava import prepare, run

    records = []
    few = max(1, len(x) // 5)
    for backend in BACKENDS:
        fixed = "fixed" in backend
        runs = {}
        for name, spec in networks.items():
            deployed = prepare(spec, fixed=fixed, calibration=x_train)
            recorded = run(spec, x, backend, deployed=deployed, record=True)
            want = emulate_fixed(deployed.fixed, x)[0] if fixed else simulate(spec, x)
            exact = recorded.spikes.keys() == want.spikes.keys() and all(
                torch.equal(recorded.spikes[i], want.spikes[i]) for i in want.spikes)
            runs[name] = dict(spec=spec, deployed=deployed, recorded=recorded, exact=exact,
                              all=[], few=[])
        for _ in range(repeats):
            for r in runs.values():
                out, seconds = _seconds(r["spec"], x, backend, r["deployed"])
                r["all"].append(seconds)
                r["exact"] = r["exact"] and all(
                    torch.equal(out.spike_counts[i], c)
                    for i, c in r["recorded"].spike_counts.items())
                r["few"].append(_seconds(r["spec"], x[:few], backend, r["deployed"])[1])
        for name, r in runs.items():
            seconds, seconds_few = median(r["all"]), median(r["few"])
            steady = (len(x) - few) / (seconds - seconds_few) if seconds > seconds_few else None
            out = r["recorded"]
            records.append({
                "network": name, "T": r["spec"].timesteps, "backend": backend,
                "stages": len(r["deployed"].stages), "samples": len(x), "steps": out.steps,
                "seconds": seconds, "samples_per_s": len(x) / seconds,
                "seconds_few": seconds_few, "few_samples": few,
                "steady_samples_per_s": steady,
                "accuracy": float((out.predictions == y).float().mean()),
                "spikes_exact": r["exact"]})
            e = records[-1]
            print(f"{name:12s} T={e['T']} {backend:16s} stages {e['stages']} steps "
                  f"{e['steps']:5d} {e['samples_per_s']:7.1f} samples/s "
                  f"({steady or float('nan'):7.1f} without start-up) accuracy "
                  f"{e['accuracy']:.4f} exact {e['spikes_exact']}", flush=True)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "maxpool_hop.json"))
    parser.add_argument("--limit", type=int, default=100, help="test samples to stream")
    parser.add_argument("--epochs", type=int, default=10, help="ANN training epochs")
    parser.add_argument("--channels", default="8,16")
    parser.add_argument("--timesteps", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    splits = load_dataset("digits")
    x, y = (t[: args.limit] for t in splits.test.tensors)
    x_train = splits.train.tensors[0]
    set_seed(args.seed)
    ann = max_pooled_cnn(tuple(int(c) for c in args.channels.split(",")))
    ann_accuracy = train_ann(ann, splits, TrainConfig(epochs=args.epochs, seed=args.seed,
                                                      device="cpu"), progress=False).test_accuracy
    records = []
    for T in (int(t) for t in args.timesteps.split(",")):
        spec, _ = convert(ann, splits.train, method="datta", timesteps=T)
        assert len(to_stages(spec)) == len(to_stages(average_twin(spec))) + 2
        records += measure({"max_pooled": spec, "avg_twin": average_twin(spec)}, x, y, x_train,
                           args.repeats)
    hops = []
    for r in records:
        if r["network"] != "max_pooled":
            continue
        twin = next(t for t in records if t["network"] == "avg_twin" and t["T"] == r["T"]
                    and t["backend"] == r["backend"])
        steady = (twin["steady_samples_per_s"] / r["steady_samples_per_s"]
                  if r["steady_samples_per_s"] and twin["steady_samples_per_s"] else None)
        hops.append({"T": r["T"], "backend": r["backend"],
                     "extra_steps": r["steps"] - twin["steps"],
                     "slowdown": twin["samples_per_s"] / r["samples_per_s"],
                     "steady_slowdown": steady})
        print(f"T={r['T']} {r['backend']:16s} +{hops[-1]['extra_steps']} steps, "
              f"{hops[-1]['slowdown']:.2f}x the time per sample "
              f"({steady or float('nan'):.2f}x without start-up)", flush=True)
    path = write_result(args.out, "maxpool_hop", {
        "settings": vars(args), "ann_accuracy": ann_accuracy, "records": records,
        "hops": hops, "seconds": time.perf_counter() - start})
    print(f"wrote {path}")
    return records


if __name__ == "__main__":
    main()
