"""The whole leanspike flow, one stage after another, each registered with its parent.

ANN (conversion-aware) -> converted SNN at T -> IIR retraining down to T=1 -> Grad R pruning ->
Loihi 2 fixed point -> Lava, checked against its snnTorch twin. A stage is identified by a key
made of its settings and its parent's key; a stage whose key is already in the registry is
loaded, not recomputed, so an interrupted run resumes where it stopped and a repeated run costs
seconds.

Under torchrun (``leanspike.distributed``) every rank trains each stage on its shard of the
training set; rank 0 alone registers the stages and runs Lava.

It drives the snnTorch adapter for training and the Lava adapter for deployment (imported
where used: Lava imports only on Python 3.10); the core's algorithms stay framework-neutral.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from leanspike import __version__, distributed
from leanspike.adapters.snntorch import (
    convert,
    evaluate_snn,
    prune,
    retrain,
    to_snntorch,
    to_spec,
)
from leanspike.adapters.snntorch.quantisation import fine_tune_fixed_point
from leanspike.adapters.snntorch.training import FinetuneConfig, finetune
from leanspike.app.pipeline.config import SPEC_ARCHS, PipelineConfig
from leanspike.data import load_dataset
from leanspike.energy import estimate
from leanspike.loihi import emulate_fixed, snap_to_fixed_point
from leanspike.loihi.snap import TIE_BREAK
from leanspike.registry import register_stage
from leanspike.training import PRESETS, TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model


@dataclass
class StageRecord:
    """One row of the pipeline's table; ``entry`` is the registry reference."""

    stage: str
    T: int | None
    accuracy: float
    sparsity: float = 0.0
    spikes_per_inference: float | None = None
    synaptic_ops: float | None = None
    energy_ratio: float | None = None
    lava_agreement: float | None = None
    entry: str = ""
    reused: bool = False
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.update(d.pop("extra"))
        return d


@dataclass
class PipelineResult:
    config: PipelineConfig
    stages: list[StageRecord]
    sweep: list[StageRecord]
    final_spec: object  # the deployed NetworkSpec
    seconds: float

    def stage(self, name: str) -> StageRecord:
        return next(s for s in self.stages if s.stage == name)


def stage_key(stage: str, settings: dict, parent_key: str) -> str:
    """What identifies a stage's result: its settings, its parent's key, the code version."""
    doc = json.dumps({"stage": stage, "settings": settings, "parent": parent_key,
                      "leanspike": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:20]


def spec_sparsity(spec) -> float:
    """Fraction of the spec's synapses that are pruned (masked)."""
    total = alive = 0
    for _, layer in spec.weighted_layers():
        total += layer.weight.numel()
        alive += layer.weight.numel() if layer.mask is None else int((layer.mask != 0).sum())
    return 1 - alive / total if total else 0.0


class _Stages:
    """Registry-backed memo: ``run(stage, settings, parent, compute)`` returns the entry for the
    key, computing and registering it only when it is missing. Under torchrun rank 0 decides
    whether an entry exists (so every rank takes the same branch) and alone writes it."""

    def __init__(self, registry, name: str, log: Callable[[str], None]):
        self.registry, self.name, self.log = registry, name, log

    def find(self, stage: str, key: str):
        found = [e for e in self.registry.list(name=self.name, stage=stage)
                 if e.params.get("pipeline_key") == key]
        return found[-1] if found else None

    def run(self, stage: str, settings: dict, parent, compute, *, main_only: bool = False):
        """``main_only``: ``compute`` runs on rank 0 alone (Lava), the others wait for it."""
        key = stage_key(stage, settings, parent.params["pipeline_key"] if parent else "")
        ref = distributed.from_main(lambda: getattr(self.find(stage, key), "ref", None))
        if ref is not None:
            entry = self.registry.get(ref)
            self.log(f"[{stage}] reusing {entry.ref} (same settings and parent)")
            return entry, True
        artifact, metrics, params = distributed.from_main(compute) if main_only else compute()
        entry = register_stage(self.registry, self.name, artifact, stage=stage, parent=parent,
                               metrics=metrics,
                               params={**params, "settings": settings, "pipeline_key": key})
        self.log(f"[{stage}] registered {entry.ref}")
        return entry, False


def _stack(dataset, limit: int = 0):
    n = len(dataset) if not limit else min(limit, len(dataset))
    xs, ys = zip(*(dataset[i] for i in range(n)))
    return torch.stack(xs), torch.tensor(ys)


def _snn_metrics(spec, splits, device, energy_model=None) -> dict:
    evaluation = evaluate_snn(to_snntorch(spec), splits.test, device=device)
    energy = estimate(spec, evaluation.spikes_per_neuron, energy_model)
    return {"accuracy": evaluation.accuracy, "spikes_per_inference": energy.spikes_per_inference,
            "synaptic_ops": energy.synaptic_ops, "energy_ratio": energy.ratio,
            "sparsity": spec_sparsity(spec)}


def _snn_record(stage: str, entry, reused: bool, **extra) -> StageRecord:
    m = entry.metrics
    return StageRecord(stage, entry.timesteps, m["accuracy"], m.get("sparsity", 0.0),
                       m.get("spikes_per_inference"), m.get("synaptic_ops"),
                       m.get("energy_ratio"), m.get("lava_agreement"), entry.ref, reused, extra)


def run_pipeline(config: PipelineConfig, registry, *, progress: bool = True,
                 log: Callable[[str], None] = print) -> PipelineResult:
    """Run (or resume) every stage; returns the table's rows and the deployed spec."""
    start = time.perf_counter()
    c = config
    splits = load_dataset(c.dataset, c.data_dir or None, seed=c.seed)
    memo = _Stages(registry, c.run_name, log)
    common = {"dataset": c.dataset, "data_dir": c.data_dir, "arch": c.arch, "model": c.model,
              "seed": c.seed}
    records: list[StageRecord] = []

    if c.arch in SPEC_ARCHS:  # an SNN trained directly: no ANN, no conversion
        conv, reused = memo.run("trained-snn", {**common, "T": c.convert.timesteps,
                                                "epochs": c.ann.epochs},
                                None, lambda: _train_spec_arch(c, splits, progress))
        records.append(_snn_record(f"SNN trained directly (T={c.convert.timesteps}, "
                                   f"surrogate gradients, BN on currents)", conv, reused))
    else:
        records_ann, conv = _ann_and_converted(c, common, splits, memo, registry, progress)
        records += records_ann

    parent = conv
    for k, T in enumerate(c.retrain.schedule):
        def compute_retrained(parent=parent, T=T, k=k):
            result = retrain(registry.load(parent), splits.train, splits.test, schedule=(T,),
                             epochs_per_stage=c.retrain.epochs_per_stage, seed=c.seed + k,
                             device=c.device, progress=progress)
            s = result.final
            return (s.spec, {"accuracy": s.accuracy, "initial_accuracy": s.initial_accuracy,
                             "spikes_per_inference": s.spikes_per_inference,
                             "synaptic_ops": s.synaptic_ops, "energy_ratio": s.energy_ratio,
                             "sparsity": 0.0},
                    {"dataset": c.dataset, "method": "iir", "config": result.config})

        settings = {"T": T, "epochs": c.retrain.epochs_per_stage, "step": k}
        parent, reused = memo.run("retrained", settings, parent, compute_retrained)
        records.append(_snn_record(f"retrained (IIR, T={T})", parent, reused))
    dense = parent

    def pruned(target: float):
        def compute():
            r = prune(registry.load(dense), splits.train, splits.test, method=c.prune.method,
                      target_sparsity=target, epochs=c.prune.epochs, device=c.device,
                      seed=c.seed, progress=progress)
            return (r.spec, {**r.metrics(), "sparsity": r.sparsity},
                    {"dataset": c.dataset, "method": c.prune.method})
        settings = {"method": c.prune.method, "target_sparsity": target,
                    "epochs": c.prune.epochs}
        return memo.run("pruned", settings, dense, compute)

    sweep = []
    for target in sorted(set(c.prune.sweep) - {c.prune.target_sparsity}):
        entry, reused = pruned(target)
        sweep.append(_snn_record(f"pruned ({c.prune.method}, {target:g})", entry, reused))
    pruned_entry, reused = pruned(c.prune.target_sparsity)
    records.append(_snn_record(f"pruned ({c.prune.method}, {c.prune.target_sparsity:g})",
                               pruned_entry, reused))

    x_train, _ = _stack(splits.train)
    to_deploy = pruned_entry
    if c.fixed_point.epochs_per_layer > 0:
        def compute_on_grid():
            r = fine_tune_fixed_point(registry.load(pruned_entry), splits.train, splits.test,
                                      epochs_per_layer=c.fixed_point.epochs_per_layer,
                                      final_epochs=c.fixed_point.final_epochs,
                                      lr=c.fixed_point.lr, input_bits=c.deploy.input_bits,
                                      calibration=x_train, seed=c.seed, device=c.device,
                                      progress=progress)
            spec = to_spec(r.network)
            return (spec, {**_snn_metrics(spec, splits, c.device),
                           "float_accuracy_before": r.float_accuracy,
                           "fixed_accuracy_before": r.fixed_accuracy_before,
                           "fixed_accuracy": r.fixed_accuracy},
                    {"dataset": c.dataset, "phases": r.phases})

        to_deploy, reused = memo.run("fixed-point-trained", dict(c.fixed_point.__dict__),
                                     pruned_entry, compute_on_grid)
        records.append(_snn_record("on the weight grid (fine-tuned)", to_deploy, reused))

    def compute_quantised():
        spec = registry.load(to_deploy)
        snapped, fixed = snap_to_fixed_point(spec, x_train, input_bits=c.deploy.input_bits)
        return (snapped, _snn_metrics(snapped, splits, c.device),
                {"dataset": c.dataset, "quantisation": [r.as_dict() for r in fixed.report],
                 "input_encoding": fixed.encoding.as_dict()})

    # the twin's thresholds sit TIE_BREAK above their integers: twins made before are not it
    quantised, reused = memo.run("quantised", {"input_bits": c.deploy.input_bits,
                                               "threshold_above": TIE_BREAK},
                                 to_deploy, compute_quantised)
    records.append(_snn_record("Loihi 2 fixed point (snnTorch twin)", quantised, reused))

    def compute_deployed():
        # agreement with the float network as pruned, before any fixed-point work
        return _deploy(registry.load(quantised), registry.load(pruned_entry), splits, x_train,
                       c, log)

    deployed, reused = memo.run(f"deployed-{c.deploy.backend}",
                                {"backend": c.deploy.backend, "limit": c.deploy.limit},
                                quantised, compute_deployed, main_only=True)
    m = deployed.metrics
    partial = "" if m["test_samples"] == len(splits.test) else f", {m['test_samples']} samples"
    records.append(StageRecord(
        f"on Lava ({c.deploy.backend}{partial})", deployed.timesteps, m["accuracy"], m["sparsity"],
        m["spikes_per_inference"], m["synaptic_ops"], m["energy_ratio"], m["lava_agreement"],
        deployed.ref, reused,
        {k: m.get(k) for k in ("float_agreement", "emulation_agreement", "spike_counts_equal",
                               "tied_outputs", "untied_agreement", "input_exact",
                               "samples_per_s", "test_samples")}))
    return PipelineResult(config, records, sweep, registry.load(deployed),
                          time.perf_counter() - start)


def _ann_and_converted(c: PipelineConfig, common: dict, splits, memo, registry, progress):
    """The ANN stages (with the ReLU yardstick) and the conversion: (records, converted)."""
    records: list[StageRecord] = []

    def ann(activation: str, preset: str):
        def compute():
            set_seed(c.seed)
            model = create_model(c.arch, num_classes=splits.info.num_classes,
                                 input_shape=splits.info.input_shape, activation=activation,
                                 **c.model)
            cfg = TrainConfig(**{**PRESETS[preset].__dict__, "epochs": c.ann.epochs,
                                 "seed": c.seed, "device": c.device})
            result = train_ann(model, splits, cfg, progress=progress)
            return (model.cpu().eval(), {"accuracy": result.test_accuracy,
                                         "train_seconds": result.seconds},
                    {"dataset": c.dataset, "arch": c.arch, "activation": activation})
        return compute

    if c.ann.reference_relu:
        ref_settings = {**common, "activation": "relu", "epochs": c.ann.epochs,
                        "preset": "default"}
        ref, reused = memo.run("ann-reference", ref_settings, None, ann("relu", "default"))
        records.append(StageRecord("ANN (ReLU, reference)", None, ref.metrics["accuracy"],
                                   energy_ratio=1.0, entry=ref.ref, reused=reused))
    ann_settings = {**common, "activation": c.ann.activation, "epochs": c.ann.epochs,
                    "preset": c.ann.preset}
    ann_entry, reused = memo.run("ann", ann_settings, None, ann(c.ann.activation, c.ann.preset))
    records.append(StageRecord(f"ANN ({c.ann.activation})", None, ann_entry.metrics["accuracy"],
                               energy_ratio=1.0, entry=ann_entry.ref, reused=reused))

    def compute_converted():
        outcome = convert(registry.load(ann_entry), splits, method=c.convert.method,
                          timesteps=c.convert.timesteps,
                          finetune_epochs=c.convert.finetune_epochs, device=c.device,
                          progress=progress)
        return (outcome.spec, {**outcome.metrics(), "sparsity": 0.0},
                {"dataset": c.dataset, "method": c.convert.method})

    conv, reused = memo.run("converted", dict(c.convert.__dict__), ann_entry, compute_converted)
    records.append(_snn_record(f"converted ({c.convert.method}, fine-tuned)", conv, reused))
    return records, conv


def _train_spec_arch(c: PipelineConfig, splits, progress: bool):
    """Build the spec architecture, train it at T with surrogate gradients and batch norm on
    its currents (folded into the spec), and measure it."""
    set_seed(c.seed)
    spec = SPEC_ARCHS[c.arch](num_classes=splits.info.num_classes,
                              input_shape=splits.info.input_shape,
                              timesteps=c.convert.timesteps, seed=c.seed, **c.model)
    net = to_snntorch(spec, surrogate="triangular", batch_norm=True)
    finetune(net, splits.train, FinetuneConfig(epochs=c.ann.epochs, lr=1e-2, seed=c.seed,
                                               device=c.device), progress=progress)
    spec = to_spec(net.cpu().eval())
    return (spec, {**_snn_metrics(spec, splits, c.device), "sparsity": 0.0},
            {"dataset": c.dataset, "method": "surrogate-gradient", "arch": c.arch})


def _deploy(spec, float_spec, splits, x_train, c: PipelineConfig, log):
    """Run the fixed-point network on Lava over the test set; compare with its snnTorch twin
    (the same integers as float) and with the float network before quantisation, and check
    Lava bit for bit against the torch emulation of its integers."""
    from leanspike.adapters.lava import prepare, run

    x, y = _stack(splits.test, c.deploy.limit)
    deployed = prepare(spec, fixed=True, calibration=x_train, input_bits=c.deploy.input_bits)
    log(f"[deploy] running {len(x)} test samples on Lava ({c.deploy.backend}) ...")
    result = run(spec, x, c.deploy.backend, deployed=deployed)
    # the twin is the chip's network: where the input encoding is not exact (too few input
    # bits for the data's levels) it gets the input the chip receives, and the rounding of the
    # input shows in the accuracy and the agreement with the float network instead
    encoding = deployed.fixed.encoding
    x_chip = x if encoding.exact else encoding.represented(x).to(x.dtype)
    with torch.no_grad():
        twin = to_snntorch(spec).eval().run(x_chip, record_spikes=True)
        before = to_snntorch(float_spec).eval().run(x)
    _, raw = emulate_fixed(deployed.fixed, x)
    pred = result.predictions
    counts_equal = all(torch.equal(result.spike_counts[i], s.sum((0, 1)).to(torch.int64))
                       for i, s in twin.spikes.items())
    energy = estimate(spec, result.spikes_per_neuron())
    # two classes on the same largest integer output: either is the chip's answer, and the
    # twin's float rounding picks one; agreement is also given over the untied samples
    top2 = raw.flatten(1).topk(2, dim=1).values  # the integers Lava ran (emulated)
    untied = top2[:, 0] > top2[:, 1]
    same = pred == twin.logits.argmax(1)
    metrics = {
        "accuracy": float((pred == y).float().mean()),
        "lava_agreement": float(same.float().mean()),
        "tied_outputs": int((~untied).sum()), "input_exact": encoding.exact,
        "untied_agreement": float(same[untied].float().mean()) if bool(untied.any()) else 1.0,
        "float_agreement": float((pred == before.logits.argmax(1)).float().mean()),
        "emulation_agreement": float((result.raw_output == raw).flatten(1).all(1)
                                     .float().mean()),
        "spike_counts_equal": counts_equal, "samples_per_s": result.samples_per_s,
        "test_samples": len(x), "sparsity": spec_sparsity(spec),
        "spikes_per_inference": energy.spikes_per_inference,
        "synaptic_ops": energy.synaptic_ops, "energy_ratio": energy.ratio,
        "spikes_per_neuron": {str(i): v for i, v in result.spikes_per_neuron().items()}}
    return spec, metrics, {"dataset": c.dataset, "backend": c.deploy.backend}


def spike_raster_input(config: PipelineConfig, index: int = 0):
    """The test sample the raster plot shows."""
    splits = load_dataset(config.dataset, config.data_dir or None, seed=config.seed)
    return splits.test[index]


def write_summary(result: PipelineResult, out: Path) -> Path:
    doc = {"config": result.config.as_dict(), "seconds": result.seconds,
           "stages": [s.as_dict() for s in result.stages],
           "sweep": [s.as_dict() for s in result.sweep]}
    path = out / "summary.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
