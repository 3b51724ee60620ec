"""What a training step minimises: leanspike's default, distillation, or the user's own
snnTorch loss.

Every loss sees the network's whole output (``SpikingOutput``: the logits and the output layer
at every step), the input and the labels, so one training loop serves them all. The default is
cross-entropy on the output divided by T, which keeps the ANN's logit scale whatever T is. A
``snntorch.functional`` loss (``ce_rate_loss()``, ``mse_count_loss()``, ``ce_max_membrane_loss()``,
...) reads the output layer over time as snnTorch passes it: spikes [T, B, C] for the
rate/count/temporal losses, membrane [T, B, C] for the membrane losses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from leanspike.adapters.snntorch.network import SpikingOutput
from leanspike.adapters.snntorch.neurons import SpecIntegrator
from leanspike.errors import ConfigError

# (network output, input, labels) -> scalar loss
LossFn = Callable[[SpikingOutput, torch.Tensor, torch.Tensor], torch.Tensor]


def scaled_logits(out: SpikingOutput) -> torch.Tensor:
    """The output divided by T: the same scale at every T."""
    return out.logits / len(out.steps)


def cross_entropy(out: SpikingOutput, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(scaled_logits(out), y)


def spiking_readout(net) -> bool:
    """The network's output layer spikes (read by its spike count)."""
    return not isinstance(net.layers[net.readout_index], SpecIntegrator)


def reads_spikes(loss) -> bool:
    """Whether a snnTorch-style loss reads output spikes (rate, count, temporal losses) rather
    than the output membrane (snnTorch's ``*_membrane_*`` losses)."""
    return "membrane" not in type(loss).__name__ and "membrane" not in getattr(
        loss, "__name__", "")


def readout_for(loss) -> str:
    """The readout a user's model is adopted with for ``loss``: spike counts for a loss that
    reads spikes, else leanspike's integrating output layer."""
    return "spikes" if loss is not None and reads_spikes(loss) else "membrane"


def user_loss(loss, spiking_readout: bool) -> LossFn:
    """A loss called as snnTorch calls its own, ``loss(record, targets)``, on the output
    layer's record; the readout must give it what it reads."""
    if reads_spikes(loss) and not spiking_readout:
        raise ConfigError(f"{type(loss).__name__} reads the output layer's spikes, but this "
                          f"network's output layer integrates (it never spikes): adopt the "
                          f"model with readout='spikes' (retrain and prune do, given your own "
                          f"model and such a loss)")

    def step(out: SpikingOutput, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss(out.steps, y)

    return step


def as_loss(loss, spiking_readout: bool) -> LossFn:
    """None: the default cross-entropy; otherwise the user's loss (see ``user_loss``)."""
    if loss is None:
        return cross_entropy
    if not callable(loss):
        raise ConfigError(f"loss must be a snntorch.functional loss or a callable "
                          f"loss(record, targets), got {type(loss).__name__}")
    return user_loss(loss, spiking_readout)
