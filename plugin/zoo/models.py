"""The zoo's architectures, built conversion-friendly.

Choices that keep a network convertible: convolutions carry a bias (it becomes a constant input
current), pooling is average pooling (a linear map the next layer can absorb), and batch norm is
optional and always placed right after its convolution inside an ``nn.Sequential`` so
``fold_batch_norm`` can fold it away. Every activation is a separate module per layer, so per-layer
clips and QCFS lambdas are per layer. Modules are named (``conv1``, ``act1``, ``pool1``...) so
state-dict keys are readable and stable whether or not batch norm is present.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from leanspike.activations import make_activation
from leanspike.errors import ConfigError
from leanspike.zoo.builders import register_model


def _act(activation: str, activation_args: dict | None) -> nn.Module:
    return make_activation(activation, **(activation_args or {}))


def _check_input(input_shape: Sequence[int], channels_first: bool = True) -> tuple[int, ...]:
    shape = tuple(int(d) for d in input_shape)
    if channels_first and len(shape) != 3:
        raise ConfigError(f"input_shape must be (C, H, W), got {shape}")
    if any(d < 1 for d in shape):
        raise ConfigError(f"input_shape must be positive, got {shape}")
    return shape


class _Namer:
    """Hands out conv1, conv2, ... so every layer kind is numbered on its own."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.layers: OrderedDict[str, nn.Module] = OrderedDict()

    def add(self, kind: str, module: nn.Module) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.layers[f"{kind}{self.counts[kind]}"] = module

    def sequential(self) -> nn.Sequential:
        seq = nn.Sequential(self.layers)
        _init_weights(seq)
        return seq


def _init_weights(model: nn.Module) -> None:
    """He initialisation for ReLU-family networks without batch norm; torch's default
    (uniform, a=sqrt(5)) starts deep plain CNNs on a long plateau."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _classifier(n: _Namer, in_features: int, hidden: Sequence[int], num_classes: int,
                activation: str, activation_args: dict | None, batch_norm: bool,
                dropout: float) -> None:
    for width in hidden:
        n.add("fc", nn.Linear(in_features, int(width)))
        if batch_norm:
            n.add("bn", nn.BatchNorm1d(int(width)))
        n.add("act", _act(activation, activation_args))
        if dropout:
            n.add("drop", nn.Dropout(dropout))
        in_features = int(width)
    n.add("fc", nn.Linear(in_features, num_classes))


@register_model("mlp", default_input_shape=(1, 8, 8))
def mlp(num_classes: int = 10, input_shape: Sequence[int] = (1, 8, 8),
        hidden: Sequence[int] = (256, 128), activation: str = "relu",
        activation_args: dict | None = None, batch_norm: bool = False,
        dropout: float = 0.0) -> nn.Module:
    """Multi-layer perceptron on the flattened input."""
    shape = tuple(int(d) for d in input_shape)
    n = _Namer()
    n.add("flatten", nn.Flatten())
    _classifier(n, math.prod(shape), hidden, num_classes, activation, activation_args,
                batch_norm, dropout)
    return n.sequential()


def _conv_block(n: _Namer, cin: int, cout: int, activation: str, activation_args: dict | None,
                batch_norm: bool) -> None:
    n.add("conv", nn.Conv2d(cin, cout, 3, padding=1, bias=True))
    if batch_norm:
        n.add("bn", nn.BatchNorm2d(cout))
    n.add("act", _act(activation, activation_args))


def _features(n: _Namer, shape: tuple[int, ...], cfg: Sequence, activation: str,
              activation_args: dict | None, batch_norm: bool, dropout: float,
              name: str) -> tuple[int, ...]:
    c, h, w = shape
    for item in cfg:
        if item == "M":
            if h < 2 or w < 2:
                raise ConfigError(f"{name}: input_shape {shape} is too small for this many "
                                 f"poolings (spatial size {h}x{w} cannot be halved)")
            n.add("pool", nn.AvgPool2d(2))
            h, w = h // 2, w // 2
        else:
            _conv_block(n, c, int(item), activation, activation_args, batch_norm)
            if dropout:
                n.add("drop", nn.Dropout(dropout))
            c = int(item)
    return c, h, w


@register_model("signal_cnn", default_input_shape=(1, 64))
def signal_cnn(num_classes: int = 10, input_shape: Sequence[int] = (1, 64),
               channels: Sequence[int] = (16, 32), kernel_size: int = 5, pool: str = "avg",
               hidden: Sequence[int] = (64,), activation: str = "relu",
               activation_args: dict | None = None, dropout: float = 0.0) -> nn.Module:
    """A 1-D CNN for (C, L) signals: per channel width a convolution and a pooling by 2."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ConfigError(f"signal_cnn: input_shape must be (C, L), got {shape}")
    if pool not in ("avg", "max"):
        raise ConfigError(f"signal_cnn: pool must be 'avg' or 'max', got {pool!r}")
    c, length = shape
    n = _Namer()
    for width in (int(w) for w in channels):
        if length < 2:
            raise ConfigError(f"signal_cnn: input_shape {shape} is too short for "
                              f"{len(channels)} poolings by 2")
        n.add("conv", nn.Conv1d(c, width, kernel_size, padding=kernel_size // 2))
        n.add("act", _act(activation, activation_args))
        n.add("pool", nn.AvgPool1d(2) if pool == "avg" else nn.MaxPool1d(2))
        length = (length + 2 * (kernel_size // 2) - kernel_size + 1) // 2
        c = width
    n.add("flatten", nn.Flatten())
    _classifier(n, c * length, hidden, num_classes, activation, activation_args, False, dropout)
    return n.sequential()


@register_model("small_cnn", default_input_shape=(1, 8, 8))
def small_cnn(num_classes: int = 10, input_shape: Sequence[int] = (1, 8, 8),
              channels: Sequence[int] = (16, 32, 64), hidden: Sequence[int] = (128,),
              activation: str = "relu", activation_args: dict | None = None,
              batch_norm: bool = False, dropout: float = 0.0) -> nn.Module:
    """Three 3x3 convolutions, two average poolings, a small classifier; sized for 8x8 digits."""
    shape = _check_input(input_shape)
    c1, c2, c3 = (int(c) for c in channels)
    n = _Namer()
    c, h, w = _features(n, shape, [c1, c2, "M", c3, "M"], activation, activation_args,
                        batch_norm, 0.0, "small_cnn")
    n.add("flatten", nn.Flatten())
    _classifier(n, c * h * w, hidden, num_classes, activation, activation_args, False, dropout)
    return n.sequential()


POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


@register_model("mnist_cnn", default_input_shape=(1, 28, 28))
def mnist_cnn(num_classes: int = 10, input_shape: Sequence[int] = (1, 28, 28),
              channels: Sequence[int] = (16, 32), hidden: Sequence[int] = (128,),
              pool: str = "avg", activation: str = "relu", activation_args: dict | None = None,
              batch_norm: bool = False, dropout: float = 0.0) -> nn.Module:
    """A 3x3 convolution and a 2x2 pooling per channel width, a small classifier; for 28x28.

    ``pool="max"`` pools after the activation, so the converted network max-pools spikes (the
    spec's MaxPool2d); ``"avg"`` is the linear pooling the next layer absorbs.
    """
    if pool not in POOLS:
        raise ConfigError(f"mnist_cnn: pool must be one of {sorted(POOLS)}, got {pool!r}")
    c, h, w = shape = _check_input(input_shape)
    n = _Namer()
    for width in channels:
        if h < 2 or w < 2:
            raise ConfigError(f"mnist_cnn: input_shape {shape} is too small for "
                              f"{len(channels)} poolings (spatial size {h}x{w} cannot be halved)")
        _conv_block(n, c, int(width), activation, activation_args, batch_norm)
        n.add("pool", POOLS[pool](2))
        c, h, w = int(width), h // 2, w // 2
    n.add("flatten", nn.Flatten())
    _classifier(n, c * h * w, hidden, num_classes, activation, activation_args, False, dropout)
    return n.sequential()


VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}


def _vgg(cfg_name: str, num_classes: int, input_shape: Sequence[int], width: float,
         hidden: Sequence[int], activation: str, activation_args: dict | None,
         batch_norm: bool, dropout: float, feature_dropout: float) -> nn.Module:
    shape = _check_input(input_shape)
    cfg = [c if c == "M" else max(1, round(c * width)) for c in VGG_CONFIGS[cfg_name]]
    n = _Namer()
    c, h, w = _features(n, shape, cfg, activation, activation_args, batch_norm, feature_dropout,
                        cfg_name)
    n.add("flatten", nn.Flatten())
    hidden = [max(1, round(int(x) * width)) for x in hidden]
    _classifier(n, c * h * w, hidden, num_classes, activation, activation_args, False, dropout)
    return n.sequential()


@register_model("vgg11", default_input_shape=(3, 32, 32))
def vgg11(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width: float = 1.0,
          hidden: Sequence[int] = (4096, 4096), activation: str = "relu",
          activation_args: dict | None = None, batch_norm: bool = False, dropout: float = 0.5,
          feature_dropout: float = 0.0) -> nn.Module:
    """VGG11 for 32x32 inputs: 8 convolutions, average pooling; ``width`` scales every layer."""
    return _vgg("vgg11", num_classes, input_shape, width, hidden, activation, activation_args,
                batch_norm, dropout, feature_dropout)


@register_model("vgg16", default_input_shape=(3, 32, 32))
def vgg16(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width: float = 1.0,
          hidden: Sequence[int] = (4096, 4096), activation: str = "relu",
          activation_args: dict | None = None, batch_norm: bool = False, dropout: float = 0.5,
          feature_dropout: float = 0.0) -> nn.Module:
    """VGG16 for 32x32 inputs: 13 convolutions, average pooling; ``width`` scales every layer."""
    return _vgg("vgg16", num_classes, input_shape, width, hidden, activation, activation_args,
                batch_norm, dropout, feature_dropout)


class BasicBlock(nn.Module):
    """act(residual(x) + shortcut(x)); conv/bn pairs sit in Sequentials so they fold."""

    def __init__(self, cin: int, cout: int, stride: int, activation: str,
                 activation_args: dict | None, batch_norm: bool):
        super().__init__()
        n = _Namer()
        n.add("conv", nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True))
        if batch_norm:
            n.add("bn", nn.BatchNorm2d(cout))
        n.add("act", _act(activation, activation_args))
        n.add("conv", nn.Conv2d(cout, cout, 3, padding=1, bias=True))
        if batch_norm:
            n.add("bn", nn.BatchNorm2d(cout))
        self.residual = n.sequential()
        if stride != 1 or cin != cout:
            s = _Namer()
            s.add("conv", nn.Conv2d(cin, cout, 1, stride=stride, bias=True))
            if batch_norm:
                s.add("bn", nn.BatchNorm2d(cout))
            self.shortcut: nn.Module = s.sequential()
        else:
            self.shortcut = nn.Identity()
        self.act = _act(activation, activation_args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.residual(x) + self.shortcut(x))


@register_model("resnet20", default_input_shape=(3, 32, 32))
def resnet20(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32),
             widths: Sequence[int] = (16, 32, 64), blocks_per_stage: int = 3,
             activation: str = "relu", activation_args: dict | None = None,
             batch_norm: bool = True) -> nn.Module:
    """CIFAR-style ResNet20 (He et al. 2016): 3 stages of 3 basic blocks, projection shortcuts.

    ``leanspike.convert.convert`` reads it as a graph (``leanspike.convert.residual``): the
    converted spec adds each block's shortcut to the current of a LIF ``Add``.
    """
    shape = _check_input(input_shape)
    n = _Namer()
    n.add("conv", nn.Conv2d(shape[0], int(widths[0]), 3, padding=1, bias=True))
    if batch_norm:
        n.add("bn", nn.BatchNorm2d(int(widths[0])))
    n.add("act", _act(activation, activation_args))
    cin = int(widths[0])
    for stage, width in enumerate(widths):
        blocks = [
            BasicBlock(cin if b == 0 else int(width), int(width),
                       2 if (b == 0 and stage > 0) else 1, activation, activation_args,
                       batch_norm)
            for b in range(int(blocks_per_stage))
        ]
        cin = int(width)
        n.add("stage", nn.Sequential(*blocks))
    n.add("pool", nn.AdaptiveAvgPool2d(1))
    n.add("flatten", nn.Flatten())
    n.add("fc", nn.Linear(cin, num_classes))
    return n.sequential()
