"""Read a trained ANN as the chain of layers a network spec can describe.

Accepted: any module whose forward is a chain (an ``nn.Sequential``, nested or not, or a custom
``forward``; read with ``leanspike.capture``, so ``F.relu``, ``F.avg_pool2d``, ``F.max_pool2d``,
``torch.flatten`` and ``x.view(B, -1)`` count as layers) of Conv1d / Conv2d / Linear with their
activation (ReLU, ClippedReLU, QCFS), average and max pooling (1-D or 2-D) and Flatten between
them, Dropout and
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
# torch's modules for the spec's layers (1-D and 2-D), shared by conversion and both directions
# of the snnTorch adapter
CONV_MODULES = (nn.Conv1d, nn.Conv2d)
WEIGHTED_MODULES = (nn.Linear, *CONV_MODULES)
AVG_POOL_MODULES = (nn.AvgPool1d, nn.AvgPool2d)
MAX_POOL_MODULES = (nn.MaxPool1d, nn.MaxPool2d)
POOL_MODULES = (*AVG_POOL_MODULES, *MAX_POOL_MODULES)
_SPEC_OF = {nn.Conv1d: S.Conv1d, nn.Conv2d: S.Conv2d, nn.AvgPool1d: S.AvgPool1d,
            nn.AvgPool2d: S.AvgPool2d, nn.MaxPool1d: S.MaxPool1d, nn.MaxPool2d: S.MaxPool2d}
_TORCH_OF = {spec_cls: torch_cls for torch_cls, spec_cls in _SPEC_OF.items()}
_FUSIONS = ((nn.Conv2d, nn.BatchNorm2d, fuse_conv_bn_eval),
            (nn.Conv1d, nn.BatchNorm1d, fuse_conv_bn_eval),
            (nn.Linear, nn.BatchNorm1d, fuse_linear_bn_eval))
_IGNORED = (nn.Dropout, nn.Identity)


@dataclass
class WeightedStage:
    """One weighted layer, its activation (None for the output layer) and what follows it."""

    name: str
    layer: nn.Conv1d | nn.Conv2d | nn.Linear
    activation: nn.Module | None = None
    activation_name: str | None = None
    after: list[tuple[str, nn.Module]] = field(default_factory=list)  # pools / flatten
    # (max pooling written before the activation is here too: it commutes with it)


@dataclass
class LayerChain:
    model: nn.Sequential  # the batch-norm-folded copy the stages belong to
    before: list[tuple[str, nn.Module]]  # pools / flatten applied to the input itself
    stages: list[WeightedStage]


def as_ints(v, n: int) -> tuple[int, ...]:
    """torch's int-or-tuple arguments as an ``n``-tuple."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _pair(v) -> tuple[int, int]:
    return as_ints(v, 2)


def _spec_class(module: nn.Module) -> type:
    """The spec layer class of a torch conv or pool (subclasses too: a parametrized Conv2d is
    a Conv2d)."""
    return next(spec for torch_cls, spec in _SPEC_OF.items() if isinstance(module, torch_cls))


def spatial_dims(module: nn.Module) -> int:
    """1 for torch's 1-D convolutions and pools, 2 for the 2-D ones."""
    return S.SPATIAL_DIMS[_spec_class(module)]


def spec_conv(module: nn.Conv1d | nn.Conv2d, weight, bias, mask, neuron
              ) -> S.Conv1d | S.Conv2d:
    """The spec layer of a torch convolution with the given tensors."""
    n = spatial_dims(module)
    return _spec_class(module)(weight, bias, mask, neuron, stride=as_ints(module.stride, n),
                                  padding=as_ints(module.padding, n))


def torch_conv(layer: S.Conv1d | S.Conv2d, dtype) -> nn.Conv1d | nn.Conv2d:
    """An empty torch convolution shaped like the spec layer."""
    w = layer.weight
    return _TORCH_OF[type(layer)](w.shape[1], w.shape[0], tuple(w.shape[2:]),
                                  stride=layer.stride, padding=layer.padding,
                                  bias=layer.bias is not None, dtype=dtype)


def torch_pool(layer) -> nn.Module:
    """The torch module of a spec pooling layer."""
    return _TORCH_OF[type(layer)](layer.kernel_size, layer.stride)


def pool_problem(module: nn.Module) -> str | None:
    """Why a torch pooling module has no spec layer, or None: the spec's pools are unpadded,
    floor mode, undilated."""
    if any(as_ints(module.padding, 1)) or module.ceil_mode:
        return "padded or ceil-mode pooling is not supported"
    if isinstance(module, MAX_POOL_MODULES):
        if any(d != 1 for d in as_ints(module.dilation, 1)):
            return "dilated max pooling is not supported"
        if module.return_indices:
            return "max pooling that returns indices is not a layer"
    return None


def shape_layer(module: nn.Module, where: str) -> S.Layer:
    """The spec layer of a torch average or max pooling (1-D or 2-D) or Flatten (shared by
    conversion and extraction)."""
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise SpecError(f"{where}: only Flatten(1, -1) is supported")
        return S.Flatten()
    problem = pool_problem(module)
    if problem:
        raise SpecError(f"{where}: {problem}")
    stride = module.stride if module.stride not in (None, (), []) else module.kernel_size
    n = spatial_dims(module)
    return _spec_class(module)(as_ints(module.kernel_size, n), as_ints(stride, n))


def _unsupported(name: str, module: nn.Module, why: str | None = None) -> ConfigError:
    reason = why or ADVICE.get(type(module)) or (
        "not a layer the network spec describes (Conv1d/2d, Linear, average or max pooling, "
        "Flatten, ReLU, ClippedReLU, QCFS, Dropout)")
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
        if isinstance(m, CONV_MODULES):
            if m.groups != 1 or any(d != 1 for d in m.dilation) or isinstance(m.padding, str) \
                    or m.padding_mode != "zeros":
                raise _unsupported(name, m, "only groups=1, dilation=1 and numeric zero padding")
            stages.append(WeightedStage(name, m))
        elif isinstance(m, nn.Linear):
            stages.append(WeightedStage(name, m))
        elif isinstance(m, ACTIVATIONS):
            if not stages or stages[-1].activation is not None or any(
                    not isinstance(p, MAX_POOL_MODULES) for _, p in stages[-1].after):
                raise _unsupported(name, m, "an activation must follow a Conv2d or Linear layer "
                                            "directly or through max pooling (average pooling "
                                            "goes after the activation)")
            stages[-1].activation, stages[-1].activation_name = m, name
        elif isinstance(m, (*POOL_MODULES, nn.Flatten)):
            problem = None if isinstance(m, nn.Flatten) else pool_problem(m)
            if problem:
                raise _unsupported(name, m, problem)
            if stages and stages[-1].activation is None and not isinstance(m, MAX_POOL_MODULES):
                raise _unsupported(name, m, "average pooling or flattening between a weighted "
                                            "layer and its activation cannot be expressed with "
                                            "spikes (max pooling can: it commutes with the "
                                            "activation)")
            (stages[-1].after if stages else before).append((name, m))
        else:
            raise _unsupported(name, m)
    if not stages:
        raise ConfigError("cannot convert: the model has no Conv1d, Conv2d or Linear layer")
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
