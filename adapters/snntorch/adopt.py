"""Take in a model written the usual snnTorch way, as it is.

An ``nn.Sequential`` of Conv2d / Linear / AvgPool2d / Flatten / Dropout and ``snn.Leaky``
neurons (``init_hidden=True`` or not) becomes a ``SpikingNetwork`` with the same weights,
thresholds, leaks, reset modes and spike amplitudes; its last neuron becomes the integrating
output layer whose membrane potential is read as the logits. The adopted network follows the
network spec's semantics: neurons reset on the step they fire, where snnTorch's default
(``reset_delay=True``) resets one step later. That is a small change in behaviour, which the
retraining that usually follows absorbs; a warning says when it applies.
"""

from __future__ import annotations

import copy
import warnings

import snntorch as snn
from torch import nn

from leanspike.adapters.snntorch.network import SpikingNetwork
from leanspike.adapters.snntorch.neurons import SpecIntegrator, SpecLeaky
from leanspike.errors import ConfigError

_PLAIN = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.Flatten)
_SKIP = (nn.Dropout, nn.Identity)


def _children(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    out = []
    for name, child in module.named_children():
        if isinstance(child, nn.Sequential):
            out.extend(_children(child, f"{prefix}{name}."))
        else:
            out.append((f"{prefix}{name}", child))
    return out


def _scalar_beta(name: str, neuron: snn.Leaky) -> float:
    beta = neuron.beta.detach().clamp(0, 1)
    if beta.numel() != 1:
        raise ConfigError(f"layer {name!r}: per-neuron leaks (beta of shape "
                          f"{tuple(beta.shape)}) are not supported; use one beta per layer")
    return float(beta)


def adopt(model: nn.Module, input_shape: tuple[int, ...], timesteps: int,
          *, surrogate: str | None = "triangular") -> SpikingNetwork:
    """A SpikingNetwork running ``model``'s layers and neurons under the spec's semantics."""
    if isinstance(model, SpikingNetwork):
        model.timesteps = int(timesteps)
        return model
    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"cannot adopt {type(model).__name__}: write the network as an "
                          f"nn.Sequential of layers and snn.Leaky neurons (a custom forward "
                          f"cannot be read)")
    model = copy.deepcopy(model)  # the user's model stays as it was
    items = [(n, m) for n, m in _children(model) if not isinstance(m, _SKIP)]
    neuron_positions = [k for k, (_, m) in enumerate(items) if isinstance(m, snn.Leaky)]
    if not neuron_positions:
        raise ConfigError("the model has no snn.Leaky neuron")
    layers: list[nn.Module] = []
    delayed = []
    for k, (name, m) in enumerate(items):
        if isinstance(m, snn.Leaky):
            if not layers or not isinstance(layers[-1], (nn.Conv2d, nn.Linear)):
                raise ConfigError(f"layer {name!r} (Leaky): a neuron must directly follow a "
                                  f"Conv2d or Linear layer")
            if getattr(m, "reset_delay", False) and not isinstance(m, SpecLeaky):
                delayed.append(name)
            if isinstance(m, (SpecLeaky, SpecIntegrator)) and k != neuron_positions[-1]:
                layers.append(m)
                continue
            beta = _scalar_beta(name, m)
            if k == neuron_positions[-1]:
                layers.append(SpecIntegrator(beta))
            else:
                if m.reset_mechanism not in ("subtract", "zero"):
                    raise ConfigError(f"layer {name!r} (Leaky): reset_mechanism "
                                      f"{m.reset_mechanism!r} is only allowed on the output layer")
                layers.append(SpecLeaky(beta, m.threshold.detach(),
                                        reset_mechanism=m.reset_mechanism,
                                        amplitude=float(m.graded_spikes_factor),
                                        surrogate=surrogate,
                                        spike_grad=None if surrogate else m.spike_grad))
        elif isinstance(m, _PLAIN):
            layers.append(m)
        else:
            kind = type(m).__name__
            why = ("only snn.Leaky neurons are supported" if kind in snn.__dict__
                   else "not a layer the network spec describes")
            raise ConfigError(f"cannot adopt layer {name!r} ({kind}): {why}")
    if neuron_positions[-1] != len(items) - 1:
        raise ConfigError(f"layer {items[-1][0]!r}: the model must end with its output neuron")
    if delayed:
        warnings.warn(f"neurons {delayed} use snnTorch's reset_delay=True (reset one step after "
                      f"the spike); the adopted network resets on the step it fires, as the "
                      f"network spec and Lava do", RuntimeWarning, stacklevel=2)
    return SpikingNetwork(layers, tuple(input_shape), timesteps)
