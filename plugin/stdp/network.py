"""A TTFS network: conv and pooling layers of fire-once neurons, run on batches of spike
times, with its connectivity and synaptic-event accounting, saved as JSON + safetensors.

It is not a ``NetworkSpec``: the spec describes rate/potential networks run for T steps with
direct input, while here a neuron fires once, input arrives as spike times and maps inhibit
each other; the Lava adapter's ``ttfs`` module deploys this object directly.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from leanspike.atomic import atomic_write
from leanspike.errors import ConfigError, SpecFileError
from leanspike.stdp.layers import FirstSpikePool, TTFSConv

FORMAT = "leanspike-ttfs/1"
NETWORK_FILE = "ttfs.json"
WEIGHTS_FILE = "weights.safetensors"


@dataclass
class LayerConnectivity:
    """Live learned connections of one conv layer: kernel weights (shared by position) and
    the synapses they make once unrolled over the positions."""

    name: str
    total: int
    alive: int
    synapses_total: int
    synapses_alive: int

    @property
    def connectivity(self) -> float:
        return self.alive / self.total if self.total else 1.0

    def as_dict(self) -> dict:
        return {"name": self.name, "total": self.total, "alive": self.alive,
                "connectivity": self.connectivity, "synapses_total": self.synapses_total,
                "synapses_alive": self.synapses_alive}


@dataclass
class NetworkRun:
    """Every layer's output spike times (in layer order) and each layer's synaptic events
    (presynaptic spike x live outgoing synapse deliveries; 0 for pooling)."""

    times: list[torch.Tensor]
    events: list[int]
    num_samples: int

    @property
    def output(self) -> torch.Tensor:
        return self.times[-1]

    def events_per_sample(self) -> float:
        return sum(self.events) / max(self.num_samples, 1)


@dataclass
class TTFSNetwork:
    input_shape: tuple[int, int, int]
    timesteps: int
    layers: list = field(default_factory=list)   # TTFSConv | FirstSpikePool
    encoding: dict = field(default_factory=dict)  # how images become input times (metadata)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.shapes()  # validates the chain

    def shapes(self) -> list[tuple[int, int, int]]:
        """Output shape of every layer."""
        shape, out = self.input_shape, []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, TTFSConv) and layer.weight.shape[1] != shape[0]:
                raise ConfigError(f"layers[{i}]: kernel takes {layer.weight.shape[1]} channels, "
                                  f"its input has {shape[0]}")
            if not isinstance(layer, (TTFSConv, FirstSpikePool)):
                raise ConfigError(f"layers[{i}]: unknown TTFS layer {type(layer).__name__}")
            shape = layer.output_shape(shape)
            if min(shape) < 1:
                raise ConfigError(f"layers[{i}]: output shape {shape} is empty")
            out.append(shape)
        return out

    def conv_indices(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if isinstance(layer, TTFSConv)]

    def run(self, times: torch.Tensor, upto: int | None = None, chunk: int = 128) -> NetworkRun:
        """Run input spike times [N, *input_shape] through layers [0, upto)."""
        if tuple(times.shape[1:]) != self.input_shape:
            raise ConfigError(f"input times have shape {tuple(times.shape[1:])}, the network "
                              f"expects {self.input_shape}")
        layers = self.layers[:upto]
        outs: list[list[torch.Tensor]] = [[] for _ in layers]
        events = [0] * len(layers)
        for start in range(0, len(times), chunk):
            h = times[start:start + chunk]
            for i, layer in enumerate(layers):
                if isinstance(layer, TTFSConv):
                    h, _, ev = layer.fire(h, self.timesteps)
                    events[i] += ev
                else:
                    h = layer.fire(h)
                outs[i].append(h)
        return NetworkRun([torch.cat(o) for o in outs], events, len(times))

    def connectivity(self) -> list[LayerConnectivity]:
        shapes = [self.input_shape, *self.shapes()]
        out = []
        for i in self.conv_indices():
            layer = self.layers[i]
            live = layer.synapses(shapes[i]).count
            full = TTFSConv(torch.ones_like(layer.weight), 1.0, layer.padding).synapses(
                shapes[i]).count
            out.append(LayerConnectivity(f"layers[{i}]", layer.mask.numel(),
                                         int(layer.mask.sum()), full, live))
        return out

    # ---------------------------------------------------------------------------------------
    # files

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ttfs.json and weights.safetensors (the JSON records the weights' sha256)."""
        from safetensors.torch import save

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors, layers = {}, []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, TTFSConv):
                tensors[f"layers.{i}.weight"] = layer.weight.contiguous()
                tensors[f"layers.{i}.mask"] = layer.mask.to(torch.uint8).contiguous()
                layers.append({"type": "conv", "threshold": layer.threshold,
                               "padding": layer.padding, "inhibition": layer.inhibition})
            else:
                layers.append({"type": "pool", "kernel": layer.kernel, "stride": layer.stride})
        weights = save(tensors)
        doc = {"format": FORMAT, "input_shape": list(self.input_shape),
               "timesteps": self.timesteps, "encoding": self.encoding, "layers": layers,
               "weights_sha256": hashlib.sha256(weights).hexdigest()}
        atomic_write(directory / WEIGHTS_FILE, weights)
        atomic_write(directory / NETWORK_FILE, (json.dumps(doc, indent=2) + "\n").encode())
        return directory


def load_ttfs(directory: str | os.PathLike) -> TTFSNetwork:
    """Read a network written by ``TTFSNetwork.save``, checking format and sha256."""
    from safetensors.torch import load

    directory = Path(directory)
    try:
        doc = json.loads((directory / NETWORK_FILE).read_text())
        weights = (directory / WEIGHTS_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise SpecFileError(f"{directory}: not a readable TTFS network ({exc})") from exc
    if doc.get("format") != FORMAT:
        raise SpecFileError(f"{directory / NETWORK_FILE}: format {doc.get('format')!r}, "
                            f"expected {FORMAT!r}")
    if hashlib.sha256(weights).hexdigest() != doc.get("weights_sha256"):
        raise SpecFileError(f"{directory / WEIGHTS_FILE}: sha256 does not match the one "
                            f"recorded in {NETWORK_FILE}")
    tensors = load(weights)
    layers = []
    for i, spec in enumerate(doc["layers"]):
        if spec["type"] == "conv":
            layers.append(TTFSConv(tensors[f"layers.{i}.weight"], spec["threshold"],
                                   spec["padding"], tensors[f"layers.{i}.mask"].bool(),
                                   spec["inhibition"]))
        elif spec["type"] == "pool":
            layers.append(FirstSpikePool(spec["kernel"], spec["stride"]))
        else:
            raise SpecFileError(f"{directory / NETWORK_FILE}: layers[{i}]: unknown type "
                                f"{spec['type']!r}")
    return TTFSNetwork(tuple(doc["input_shape"]), doc["timesteps"], layers, doc["encoding"])
