"""Training throughput of one SNN in leanspike, plain snnTorch and SpikingJelly, side by side.

    python benchmarks/train_speed.py --out benchmarks/results/train_speed.json [--device cuda]

Every framework trains the same network (the same layers and weights, built from one zoo ANN
whose ReLUs become LIF neurons, u = 0.9 u + I, threshold 1, subtractive reset on the step it
fires; the last Linear layer feeds a non-leaking integrator read at step T) on the same random
batch: forward over T steps of direct input, cross-entropy on the logits / T, backward (BPTT),
Adam step. Samples per second; each figure is the median of ``--repeats`` measurements, and the
frameworks take turns within every repeat (in a rotating order), so machine load falls on them
alike; speed-ups are the median over repeats of each repeat's ratio.

- ``leanspike``: ``adopt`` of the snnTorch model (a ``SpikingNetwork``, the class ``to_snntorch``
  builds), trained by ``train_epoch`` (the training path: triangular surrogate,
  ``SpikingNetwork.run``'s layer schedule), weights only as in the other two;
- ``leanspike_step``: the same, on ``run(schedule="step")``, the step-by-step loop the layer
  schedule replaced;
- ``leanspike_trainable``: ``leanspike`` with thresholds and leaks trained too
  (``make_trainable``), as ``finetune`` and ``retrain`` do: more work than the others;
- ``snntorch``: ``nn.Sequential`` of the torch layers and ``snn.Leaky(init_hidden=True)``
  (atan surrogate, ``reset_delay=False``), called once per step, ``reset_mem()`` per batch;
- ``spikingjelly``: ``activation_based`` multi-step mode: every torch layer in
  ``layer.SeqToANNContainer`` and ``neuron.LIFNode(tau=10, decay_input=False, v_reset=None,
  detach_reset=True, surrogate ATan, step_mode="m")``, the input repeated T times,
  ``functional.reset_net`` per batch, logits the sum over T of the last layer's output.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

FRAMEWORKS = ("leanspike", "leanspike_step", "leanspike_trainable", "snntorch", "spikingjelly")
BETA = 0.9
# name -> (zoo architecture, builder arguments, input shape)
NETWORKS = {
    "vgg11_w0.25": ("vgg11", {"width": 0.25, "dropout": 0.0}, (3, 32, 32)),
    "small_cnn": ("small_cnn", {}, (1, 8, 8)),
    "vgg16": ("vgg16", {"dropout": 0.0}, (3, 32, 32)),
}


def ann_layers(arch: str, model_args: dict, input_shape, num_classes: int = 10) -> list:
    """The zoo ANN's layers in order, without Dropout; "relu" where a neuron goes."""
    from leanspike.zoo import create_model

    model = create_model(arch, num_classes=num_classes, input_shape=tuple(input_shape),
                         **model_args)
    out = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.MaxPool2d, nn.Flatten)):
            out.append(m)
        elif isinstance(m, nn.ReLU) or type(m).__name__.lower().startswith("relu"):
            out.append("relu")
    if not isinstance(out[-1], nn.Linear):
        raise ValueError(f"{arch}: expected the last layer to be Linear")
    return out


def snntorch_model(layers: list) -> nn.Module:
    import snntorch as snn

    modules = [snn.Leaky(beta=BETA, threshold=1.0, init_hidden=True, reset_delay=False)
               if m == "relu" else copy.deepcopy(m) for m in layers]
    modules.append(snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism="none", output=True))
    return nn.Sequential(*modules)


def spikingjelly_model(layers: list) -> nn.Module:
    from spikingjelly.activation_based import layer, neuron, surrogate

    return nn.Sequential(*[
        neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=1.0, v_reset=None,
                       detach_reset=True, surrogate_function=surrogate.ATan(), step_mode="m")
        if m == "relu" else layer.SeqToANNContainer(copy.deepcopy(m)) for m in layers])


class _Batches(list):
    """The same batch n times, as train_epoch takes a DataLoader (no sampler to reshuffle)."""

    sampler = None


class Trainer:
    """One framework's model, optimizer and training step on a fixed batch."""

    def __init__(self, framework: str, layers: list, input_shape, T: int, device):
        self.framework, self.T, self.device = framework, T, device
        if framework.startswith("leanspike"):
            from leanspike.adapters.snntorch import adopt
            from leanspike.adapters.snntorch.training import make_trainable

            self.model = adopt(snntorch_model(layers), tuple(input_shape), T,
                               surrogate="triangular")
            if framework == "leanspike_trainable":
                make_trainable(self.model)
        elif framework == "snntorch":
            self.model = snntorch_model(layers)
        elif framework == "spikingjelly":
            self.model = spikingjelly_model(layers)
        else:
            raise ValueError(framework)
        self.model.to(device).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)

    def steps(self, x, y, n: int) -> None:
        f = self.framework
        if f.startswith("leanspike"):
            from leanspike.adapters.snntorch.training import train_epoch

            schedule = "layer" if f == "leanspike" else "step"
            net = self.model
            if schedule == "step":
                run = net.run
                net.run = lambda x, **kw: run(x, schedule="step", **kw)
            try:
                train_epoch(net, _Batches([(x, y)] * n), self.optimizer, self.device)
            finally:
                net.__dict__.pop("run", None)
            return
        for _ in range(n):
            self.optimizer.zero_grad(set_to_none=True)
            logits = self._forward(x)
            loss = nn.functional.cross_entropy(logits / self.T, y)
            loss.backward()
            self.optimizer.step()
            loss.item()  # as train_epoch does (a host sync on a GPU)

    def _forward(self, x):
        if self.framework == "snntorch":
            import snntorch as snn

            for m in self.model.modules():
                if isinstance(m, snn.Leaky):
                    m.reset_mem()
            for _ in range(self.T):
                _, mem = self.model(x)
            return mem
        from spikingjelly.activation_based import functional

        functional.reset_net(self.model)
        out = self.model(x.unsqueeze(0).repeat(self.T, *([1] * x.dim())))
        return out.sum(0)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_row(network: str, T: int, args, device, frameworks=FRAMEWORKS) -> dict:
    """Samples/s of every framework at one T: a warm-up step each, then ``args.repeats``
    rounds in which each framework trains for about ``args.min_seconds``."""
    arch, model_args, shape = NETWORKS[network]
    model_args = {**model_args, **json.loads(getattr(args, "model_args", None) or "{}")}
    torch.manual_seed(0)
    layers = ann_layers(arch, model_args, shape)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, *shape, generator=g).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
    trainers = {f: Trainer(f, layers, shape, T, device) for f in frameworks}
    iters = {}
    for f, tr in trainers.items():
        tr.steps(x, y, 1)  # warm-up (allocator, lazy state)
        _sync(device)
        start = time.perf_counter()
        tr.steps(x, y, 1)
        _sync(device)
        iters[f] = max(1, math.ceil(args.min_seconds / (time.perf_counter() - start)))
    rates: dict[str, list[float]] = {f: [] for f in frameworks}
    order = list(frameworks)
    for r in range(args.repeats):
        for f in order[r % len(order):] + order[: r % len(order)]:
            _sync(device)
            start = time.perf_counter()
            trainers[f].steps(x, y, iters[f])
            _sync(device)
            rates[f].append(iters[f] * args.batch / (time.perf_counter() - start))
    record = {"network": network, "arch": arch, "model_args": model_args,
              "input_shape": list(shape), "T": T, "batch": args.batch,
              "params": sum(p.numel() for p in trainers[frameworks[0]].model.parameters()),
              "iterations": iters, "samples_per_s": rates,
              "median": {f: common.median(v) for f, v in rates.items()},
              "min": {f: min(v) for f, v in rates.items()},
              "max": {f: max(v) for f, v in rates.items()}}
    med = record["median"]
    if "leanspike" in med:
        # per round (the frameworks of one round ran seconds apart, under much the same load):
        # the median of leanspike's ratio to each, and its range
        rounds = {f"leanspike_vs_{f}": [a / b for a, b in zip(rates["leanspike"], rates[f])]
                  for f in frameworks if f != "leanspike"}
        record["speedup"] = {k: common.median(v) for k, v in rounds.items()}
        record["speedup_range"] = {k: [min(v), max(v)] for k, v in rounds.items()}
    print(f"{network} T={T} batch {args.batch}: " + ", ".join(
        f"{f} {med[f]:.1f} ({record['min'][f]:.1f}-{record['max'][f]:.1f})" for f in frameworks)
        + " samples/s" + ("; " + ", ".join(f"{k} {v:.2f}x" for k, v in record["speedup"].items())
                          if "speedup" in record else ""), flush=True)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(common.RESULTS / "train_speed.json"))
    parser.add_argument("--networks", default="vgg11_w0.25,small_cnn",
                        help=f"comma-separated, of {', '.join(NETWORKS)}")
    parser.add_argument("--timesteps", default="1,2,4")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--min-seconds", type=float, default=0.6,
                        help="training time per framework per repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model-args", default="{}", help="JSON, added to every network's")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    frameworks = tuple(args.frameworks.split(","))
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    records = [measure_row(n, int(t), args, device, frameworks)
               for n in args.networks.split(",") for t in args.timesteps.split(",")]
    from importlib.metadata import version

    payload = {"device": str(device), "threads": args.threads, "repeats": args.repeats,
               "spikingjelly": version("spikingjelly"),
               "min_seconds": args.min_seconds, "frameworks": list(frameworks),
               "seconds": time.perf_counter() - start,
               "load_average": {"start": load_start, "end": os.getloadavg()[0]},
               "records": records}
    path = common.write_result(args.out, "train_speed", payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
