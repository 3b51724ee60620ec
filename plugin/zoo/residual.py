"""Residual SNNs written in the spec's own terms, for training directly with surrogate gradients.

Unlike the rest of the zoo (ANNs for conversion), these builders return a ``NetworkSpec`` with
initialised weights: a residual SNN is a graph of neuron populations from the start, and
``leanspike.adapters.snntorch.to_snntorch`` makes it trainable. Two block styles (see
``leanspike.spec`` for why each is exact on synapses that sum):

- ``"sew"`` (SEW ResNet, Fang et al. 2021, ADD): both convolutions spike and an ``Add`` without
  a neuron sums the block's spikes with its input (spikes, or an earlier block's sum), so the
  identity mapping is exact: a block whose convolutions stay silent passes its input on.
- ``"current"`` (spiking ResNet, and what a converted ResNet becomes): the second convolution
  gives a current, the shortcut adds its own (the input's spikes through unit synapses, or a
  1x1 convolution), and an ``Add`` that carries the LIF neuron integrates the sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from leanspike import spec as S
from leanspike.errors import ConfigError

STYLES = ("sew", "current")


def _conv(cin: int, cout: int, k: int, stride: int, neuron: S.LIF | None, name: str,
          inputs: tuple[int, ...] | None, generator: torch.Generator) -> S.Conv2d:
    std = math.sqrt(2.0 / (cin * k * k))  # He initialisation: spikes are non-negative
    weight = torch.randn(cout, cin, k, k, generator=generator) * std
    return S.Conv2d(weight, torch.zeros(cout), neuron=neuron, stride=(stride, stride),
                    padding=(k // 2, k // 2), inputs=inputs, name=name)


def sew_resnet(num_classes: int = 10, input_shape: Sequence[int] = (1, 8, 8),
               widths: Sequence[int] = (8, 16), blocks_per_stage: int = 1,
               timesteps: int = 2, style: str = "sew", threshold: float = 1.0,
               leak: float = 1.0, seed: int = 0) -> S.NetworkSpec:
    """A residual SNN spec: a stem convolution, ``blocks_per_stage`` residual blocks per stage
    (the first of each later stage halves the resolution, its shortcut a 1x1 convolution),
    global average pooling and an integrating Linear readout."""
    if style not in STYLES:
        raise ConfigError(f"style must be one of {STYLES}, got {style!r}")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ConfigError(f"sew_resnet needs a (C, H, W) input shape, got {shape}")
    if not widths or blocks_per_stage < 1:
        raise ConfigError("sew_resnet needs at least one stage of at least one block")
    g = torch.Generator().manual_seed(seed)

    def lif() -> S.LIF:
        return S.LIF(threshold=threshold, leak=leak)

    layers: list[S.Layer] = [_conv(shape[0], widths[0], 3, 1, lif(), "stem", None, g)]
    cin, size = int(widths[0]), (shape[1], shape[2])
    for stage, width in enumerate(int(w) for w in widths):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"stage{stage + 1}.block{block + 1}"
            x = len(layers) - 1  # the block's input
            layers.append(_conv(cin, width, 3, stride, lif(), f"{name}.conv1", None, g))
            second = lif() if style == "sew" else None
            layers.append(_conv(width, width, 3, 1, second, f"{name}.conv2", None, g))
            residual = len(layers) - 1
            if stride != 1 or cin != width:
                layers.append(_conv(cin, width, 1, stride, second, f"{name}.shortcut", (x,), g))
                x = len(layers) - 1
            neuron = lif() if style == "current" else None
            layers.append(S.Add(neuron=neuron, inputs=(residual, x), name=f"{name}.add"))
            cin = width
            size = tuple((d + 2 - 3) // stride + 1 for d in size)
    layers += [S.AvgPool2d(size, size, name="pool"), S.Flatten(name="flatten")]
    std = math.sqrt(1.0 / cin)
    layers.append(S.Linear(torch.randn(num_classes, cin, generator=g) * std,
                           torch.zeros(num_classes), neuron=S.Integrator(), name="fc"))
    spec = S.NetworkSpec(shape, layers, int(timesteps),
                         metadata={"arch": "sew_resnet", "style": style})
    return spec.validate()
