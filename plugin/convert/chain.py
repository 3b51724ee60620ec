"""Read a trained ANN as the chain of layers a network spec can describe.

Accepted: any module whose forward is a chain (an ``nn.Sequential``, nested or not, or a custom
``forward``; read with ``leanspike.capture``, so ``F.relu``, ``F.avg_pool2d``, ``F.max_pool2d``,
``torch.flatten`` and ``x.view(B, -1)`` count as layers) of Conv2d / Linear with their
activation (ReLU, ClippedReLU, QCFS), AvgPool2d, MaxPool2d and Flatten between them, Dropout and
Identity (dropped: they are the identity at inference). Batch norm is folded first. Anything
else is refused with the layer's name, because converting it silently would change what the
network computes.

Max pooling may sit before or after the activation: every accepted activation is monotonic, so
``act(max(x)) == max(act(x))`` exactly, and ``Conv -> MaxPool -> ReLU`` is read as
``Conv -> ReLU -> MaxPool``, which becomes ``Conv -> LIF -> MaxPool`` (max pooling of spikes).
The neurons sit where the activation's input is the layer's own output, so calibration reads
that output (``WeightedStage.layer``), whatever the order. Average pooling does not commute
with an activation and must follow it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from leanspike import spec as S
from leanspike.activations import QCFS, ClippedReLU
from leanspike.capture import ADVICE, capture
from leanspike.errors import ConfigError, SpecError

ACTIVATIONS = (nn.ReLU, ClippedReLU, QCFS)
_FUSIONS = ((nn.Conv2d, nn.BatchNorm2d, fuse_conv_bn_eval),
            (nn.Linear, nn.BatchNorm1d, fuse_linear_bn_eval))
_IGNORED = (nn.Dropout, nn.Identity)


@dataclass
class WeightedStage:
    """One weighted layer, its activation (None for the output layer) and what follows it."""

    name: str
    layer: nn.Conv2d | nn.Linear
    activation: nn.Module | None = None
    activation_name: str | None = None
    after: list[tuple[str, nn.Module]] = field(default_factory=list)  # pools / flatten
    # (max pooling written before the activation is here too: it commutes with it)


@dataclass
class LayerChain:
    model: nn.Sequential  # the batch-norm-folded copy the stages belong to
    before: list[tuple[str, nn.Module]]  # pools / flatten applied to the input itself
    stages: list[WeightedStage]


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def pool_problem(module: nn.AvgPool2d | nn.MaxPool2d) -> str | None:
    """Why a torch pooling module has no spec layer, or None: the spec's pools are unpadded,
    floor mode, undilated."""
    if module.padding not in (0, (0, 0)) or module.ceil_mode:
        return "padded or ceil-mode pooling is not supported"
    if isinstance(module, nn.MaxPool2d):
        if module.dilation not in (1, (1, 1)):
            return "dilated max pooling is not supported"
        if module.return_indices:
            return "max pooling that returns indices is not a layer"
    return None


def shape_layer(module: nn.AvgPool2d | nn.MaxPool2d | nn.Flatten, where: str) -> S.Layer:
    """The spec layer of a torch AvgPool2d, MaxPool2d or Flatten (shared by conversion and
    extraction)."""
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise SpecError(f"{where}: only Flatten(1, -1) is supported")
        return S.Flatten()
    problem = pool_problem(module)
    if problem:
        raise SpecError(f"{where}: {problem}")
    stride = module.stride if module.stride not in (None, (), []) else module.kernel_size
    cls = S.MaxPool2d if isinstance(module, nn.MaxPool2d) else S.AvgPool2d
    return cls(_pair(module.kernel_size), _pair(stride))


def _unsupported(name: str, module: nn.Module, why: str | None = None) -> ConfigError:
    reason = why or ADVICE.get(type(module)) or (
        "not a layer the network spec describes (Conv2d, Linear, AvgPool2d, MaxPool2d, Flatten, "
        "ReLU, ClippedReLU, QCFS, Dropout)")
    return ConfigError(f"cannot convert layer {name!r} ({type(module).__name__}): {reason}")


def _read_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's layers in the order its forward runs them (``leanspike.capture``: an
    nn.Sequential, nested or not, or any module whose forward is a chain, with functional
    calls as layers), on a copy, with every Conv/Linear -> BatchNorm pair folded."""
    model = copy.deepcopy(model).eval()
    steps = capture(model, leaves=ACTIVATIONS, neurons_required=False).steps
    items: list[tuple[str, nn.Module]] = []
    for step in steps:
        m, prev = step.module, items[-1][1] if items else None
        fuse = next((f for w, bn, f in _FUSIONS if isinstance(prev, w) and isinstance(m, bn)),
                    None)
        if fuse is not None:
            items[-1] = (items[-1][0], fuse(prev, m))
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ConfigError(f"cannot fold batch norm {step.name}: it does not directly "
                              f"follow a Conv2d/Linear")
        else:
            items.append((step.name, m))
    return items


def read_chain(model: nn.Module) -> LayerChain:
    """Fold batch norm, then split the model into weighted stages; raise on anything else."""
    layers = _read_layers(model)
    model = nn.Sequential(*(m for _, m in layers))  # the same computation, as one chain
    before: list[tuple[str, nn.Module]] = []
    stages: list[WeightedStage] = []
    for name, m in layers:
        if isinstance(m, _IGNORED):
            continue
        if isinstance(m, nn.Conv2d):
            if m.groups != 1 or m.dilation != (1, 1) or isinstance(m.padding, str) \
                    or m.padding_mode != "zeros":
                raise _unsupported(name, m, "only groups=1, dilation=1 and numeric zero padding")
            stages.append(WeightedStage(name, m))
        elif isinstance(m, nn.Linear):
            stages.append(WeightedStage(name, m))
        elif isinstance(m, ACTIVATIONS):
            if not stages or stages[-1].activation is not None or any(
                    not isinstance(p, nn.MaxPool2d) for _, p in stages[-1].after):
                raise _unsupported(name, m, "an activation must follow a Conv2d or Linear layer "
                                            "directly or through max pooling (average pooling "
                                            "goes after the activation)")
            stages[-1].activation, stages[-1].activation_name = m, name
        elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d, nn.Flatten)):
            problem = None if isinstance(m, nn.Flatten) else pool_problem(m)
            if problem:
                raise _unsupported(name, m, problem)
            if stages and stages[-1].activation is None and not isinstance(m, nn.MaxPool2d):
                raise _unsupported(name, m, "average pooling or flattening between a weighted "
                                            "layer and its activation cannot be expressed with "
                                            "spikes (max pooling can: it commutes with the "
                                            "activation)")
            (stages[-1].after if stages else before).append((name, m))
        else:
            raise _unsupported(name, m)
    if not stages:
        raise ConfigError("cannot convert: the model has no Conv2d or Linear layer")
    if stages[-1].activation is not None:
        raise _unsupported(stages[-1].activation_name, stages[-1].activation,
                           "the output layer must not have an activation (its output are the "
                           "logits, which the SNN reads from the membrane potential)")
    if stages[-1].after:
        raise _unsupported(*stages[-1].after[0], "nothing may follow the output layer")
    for s in stages[:-1]:
        if s.activation is None:
            raise _unsupported(s.name, s.layer, "every hidden weighted layer needs an activation")
    return LayerChain(model, before, stages)
