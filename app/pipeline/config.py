"""Every setting of a pipeline run, read from and written to TOML.

The run folder keeps the resolved config (``config.toml``), so ``leanspike pipeline --config
RUN/config.toml`` repeats a run exactly. Unknown keys are errors that name the key: a typo must
not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from leanspike.adapters.snntorch.pruning import METHODS
from leanspike.data import NPZ_PREFIX
from leanspike.errors import ConfigError
from leanspike.loihi.backends import LAVA_BACKENDS
from leanspike.training import PRESETS
from leanspike.zoo import model_entry
from leanspike.zoo.residual import sew_resnet

# architectures that are spec builders, trained directly as SNNs (no ANN, no conversion)
SPEC_ARCHS = {"sew_resnet": sew_resnet}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10, the project's own environment
    import tomli as tomllib


@dataclass
class AnnConfig:
    activation: str = "clip"        # the conversion-aware activation (Datta & Beerel's clip)
    epochs: int = 40
    preset: str = "datta2022"       # optimiser settings (leanspike.training.PRESETS)
    reference_relu: bool = True     # also train the plain ReLU ANN: the yardstick


@dataclass
class ConvertConfig:
    method: str = "datta"
    timesteps: int = 2
    finetune_epochs: int = 10


@dataclass
class RetrainConfig:
    schedule: list[int] = field(default_factory=lambda: [1])  # after conversion's T
    epochs_per_stage: int = 15


@dataclass
class PruneConfig:
    method: str = "gradr"
    target_sparsity: float = 0.95
    epochs: int = 60
    sweep: list[float] = field(default_factory=lambda: [0.8, 0.9, 0.98])  # extra targets, plot


@dataclass
class FixedPointConfig:
    """Fine-tuning onto Loihi 2's weight grid before deployment (``fine_tune_fixed_point``),
    layer by layer; ``epochs_per_layer`` 0 skips the stage."""

    epochs_per_layer: int = 0
    final_epochs: int = 2
    lr: float = 3e-4


@dataclass
class DeployConfig:
    backend: str = "lava-fixed"     # per-layer Lava processes, Loihi 2 fixed point
    input_bits: int = 8
    limit: int = 0                  # test samples run on Lava; 0 = all


@dataclass
class PipelineConfig:
    dataset: str = "digits"
    data_dir: str = ""
    arch: str = "small_cnn"
    model: dict[str, Any] = field(default_factory=dict)  # builder arguments
    seed: int = 0
    device: str = "auto"
    name: str = ""                  # registry name; default "<dataset>-<arch>"
    ann: AnnConfig = field(default_factory=AnnConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    fixed_point: FixedPointConfig = field(default_factory=FixedPointConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)

    @property
    def run_name(self) -> str:
        """The registry name: ``--name``, else DATASET-ARCH (an npz file by its stem)."""
        if self.name:
            return self.name
        dataset = self.dataset
        if dataset.startswith(NPZ_PREFIX):
            dataset = Path(dataset[len(NPZ_PREFIX):]).stem
        name = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{dataset}-{self.arch}".replace("_", "-"))
        return name.strip("-.") or "run"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> PipelineConfig:
        if self.prune.method not in METHODS:
            raise ConfigError(f"prune.method: {self.prune.method!r} is not one of {METHODS}")
        if self.ann.preset not in PRESETS:
            raise ConfigError(f"ann.preset: {self.ann.preset!r} is not one of {sorted(PRESETS)}")
        for key, value in (("prune.target_sparsity", self.prune.target_sparsity),
                           *((f"prune.sweep[{i}]", s) for i, s in enumerate(self.prune.sweep))):
            if not 0 < value < 1:
                raise ConfigError(f"{key}: a sparsity is in (0, 1), got {value}")
        if self.convert.timesteps < 1 or any(t < 1 for t in self.retrain.schedule):
            raise ConfigError("convert.timesteps and retrain.schedule need T >= 1")
        fixed = [name for name, (is_fixed, _) in LAVA_BACKENDS.items() if is_fixed]
        if self.deploy.backend not in fixed:
            raise ConfigError(f"deploy.backend: {self.deploy.backend!r}; the pipeline deploys "
                              f"in fixed point: {' or '.join(map(repr, fixed))}")
        return self


# A tiny run for tests and a first look: a narrow CNN, a few epochs per stage.
QUICK = {
    "model": {"channels": [4, 8, 8], "hidden": [32]},
    "ann": {"epochs": 8, "preset": "default"},
    "convert": {"finetune_epochs": 2},
    "retrain": {"epochs_per_stage": 3},
    "prune": {"epochs": 12, "target_sparsity": 0.9, "sweep": []},
    "deploy": {"limit": 60},
}


def _build(cls, data: dict, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}{key}: unknown setting; known: {', '.join(fields)}")
        default = getattr(cls(), key)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key}: expected a table, got {value!r}")
            value = _build(type(default), value, f"{where}{key}.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}{key}: expected true or false, got {value!r}")
        elif isinstance(default, (int, float)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or (isinstance(default, int) and not float(value).is_integer()):
                raise ConfigError(f"{where}{key}: expected a number like {default!r}, "
                                  f"got {value!r}")
            value = type(default)(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}{key}: expected a string, got {value!r}")
        elif isinstance(default, (list, dict)) and not isinstance(value, type(default)):
            raise ConfigError(f"{where}{key}: expected a {type(default).__name__}, "
                              f"got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "model":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, *, quick: bool = False,
                overrides: dict | None = None) -> PipelineConfig:
    """Defaults, then ``QUICK`` if asked, then the TOML file, then ``overrides`` (the CLI's)."""
    data: dict = dict(QUICK) if quick else {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = _merge(data, tomllib.loads(path.read_text()))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    data = _merge(data, overrides or {})
    if quick and data.get("model") is QUICK["model"]:
        # the quick network's settings, as far as the architecture's builder takes them
        arch = data.get("arch", PipelineConfig().arch)
        builder = SPEC_ARCHS[arch] if arch in SPEC_ARCHS else model_entry(arch).builder
        takes = inspect.signature(builder).parameters
        data["model"] = {k: v for k, v in QUICK["model"].items() if k in takes}
    return _build(PipelineConfig, data, "").validate()


def dump_config(config: PipelineConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# leanspike pipeline: the resolved settings of this run.\n"
            "# Repeat it with: leanspike pipeline --config " + path.name + "\n"
            + tomli_w.dumps(config.as_dict()))
    path.write_text(text)
    return path
