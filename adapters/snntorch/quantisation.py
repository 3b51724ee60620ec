"""Fixed point in the training loop: fine-tune a network onto Loihi 2's 8-bit weight grid.

In the spirit of progressive tandem learning (Wu et al. 2021): the hardware constraint is
imposed one weighted layer at a time, from the input up, and the network is fine-tuned after
each, so that the layers still in float learn to absorb the rounding of those already on the
grid. A layer on the grid keeps a float "shadow" weight that the optimiser updates; its forward
pass uses the weight rounded to the grid ``leanspike.loihi.snap.WeightGrid`` describes (the
8-bit mantissa and the layer's weight unit, exactly where ``snap_to_fixed_point`` puts it),
and the gradient passes the rounding unchanged (the straight-through estimator). At the end the
rounded weights are baked in, so snapping the result to fixed point moves no weight at all.

Only the weights are constrained: thresholds (17-bit mantissas), biases (13 bits) and leaks
(12 bits) sit on grids hundreds of times finer than the weights' 8 bits, and the input lattice
of pixel data is encoded exactly (``leanspike.loihi.fixed_point``), so the weights are where the
fixed-point loss comes from; ``benchmarks/qat.py`` measures what is left.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.utils.data import Dataset

from leanspike.adapters.snntorch.losses import as_loss, spiking_readout
from leanspike.adapters.snntorch.network import SpikingNetwork, to_snntorch, to_spec
from leanspike.adapters.snntorch.training import FinetuneConfig, evaluate_snn, finetune
from leanspike.convert.chain import WEIGHTED_MODULES
from leanspike.errors import ConfigError
from leanspike.loihi import emulate_fixed, snap_to_fixed_point
from leanspike.loihi.explicit_groups import explicit_groups
from leanspike.loihi.snap import WeightGrid, weight_grids


class OnGrid(nn.Module):
    """Parametrization: the weight as the chip stores it, with a straight-through gradient.

    ``partners``: the other layers whose synapses drive the same population (a residual
    block's groups), as (module, weight name, grid): their weights share the population's
    unit, so the largest of them all sets it. Held in a tuple, not as submodules, so that two
    partners do not contain each other."""

    def __init__(self, grid: WeightGrid, partners: tuple = ()):
        super().__init__()
        self.grid = grid
        self.partners = tuple(partners)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        peak = self.grid.peak(weight)
        for module, name, grid in self.partners:
            peak = torch.maximum(peak, grid.peak(_unrounded(module, name)).to(peak.device))
        return weight + (self.grid.on_grid(weight, peak) - weight).detach()


def _unrounded(module: nn.Module, name: str) -> torch.Tensor:
    """A layer's trainable weights before any rounding (a partner's own parametrization would
    read this layer's in turn)."""
    if parametrize.is_parametrized(module, name):
        return module.parametrizations[name].original
    return getattr(module, name)


def _weight_name(module: nn.Module) -> str:
    """The tensor that holds a layer's trainable weights: a pruned layer's ``weight_orig``
    (its mask multiplies the rounded value, so pruned synapses stay zero)."""
    return "weight_orig" if hasattr(module, "weight_orig") else "weight"


def weighted_modules(net: SpikingNetwork) -> list[tuple[int, nn.Module]]:
    """(spec layer index, module) of every weighted layer, input first."""
    return [(net.spec_index[k], m) for k, m in enumerate(net.layers)
            if isinstance(m, WEIGHTED_MODULES)]


def put_on_grid(module: nn.Module, grid: WeightGrid, partners: tuple = ()) -> None:
    parametrize.register_parametrization(module, _weight_name(module), OnGrid(grid, partners))


def bake(net: SpikingNetwork) -> None:
    """Replace every parametrized weight by its rounded value (the grid becomes the weight)."""
    for _, module in weighted_modules(net):
        name = _weight_name(module)
        if parametrize.is_parametrized(module, name):
            parametrize.remove_parametrizations(module, name, leave_parametrized=True)


@dataclass
class QuantisationAwareResult:
    network: SpikingNetwork        # weights on the grid (baked), float everywhere else
    spec: object                   # its spec, snapped to fixed point (the chip's twin)
    fixed: object                  # the FixedNetwork the chip runs
    float_accuracy: float          # the network before, in float
    fixed_accuracy_before: float   # the network before, snapped to fixed point (emulated)
    fixed_accuracy: float          # after, in fixed point (emulated)
    phases: list[dict] = field(default_factory=list)  # per layer put on the grid
    seconds: float = 0.0


def _fixed_accuracy(spec, calibration, test: Dataset, input_bits: int):
    snapped, fixed = snap_to_fixed_point(spec, calibration, input_bits=input_bits)
    x, y = _tensors(test)
    result, _ = emulate_fixed(fixed, x)
    return float((result.output.argmax(1) == y).float().mean()), snapped, fixed


def _tensors(data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    if hasattr(data, "tensors"):
        return data.tensors[0], data.tensors[1]
    xs, ys = zip(*(data[i] for i in range(len(data))))
    return torch.stack(xs), torch.as_tensor(ys)


def fine_tune_fixed_point(source, train: Dataset, test: Dataset, *, epochs_per_layer: int = 2,
                          final_epochs: int = 2, lr: float = 3e-4, input_bits: int = 8,
                          calibration: torch.Tensor | None = None, loss=None, seed: int = 0,
                          device: str = "auto", registry=None,
                          progress: bool = True) -> QuantisationAwareResult:
    """Fine-tune a copy of ``source`` (a SpikingNetwork, spec, registry entry or reference)
    layer by layer onto the Loihi 2 weight grid; returns the network, its snapped spec, and
    the test accuracy in float and in fixed point before and after.

    ``calibration`` (default: the training inputs) chooses the input encoding, as
    ``snap_to_fixed_point`` does. Each layer put on the grid is followed by
    ``epochs_per_layer`` epochs of BPTT at the network's T (Adam, ``lr``), and the whole
    network by ``final_epochs`` more; ``loss`` as in ``retrain``.

    A residual graph is fine-tuned as ``leanspike.loihi.explicit_groups`` writes it, with
    weights of its own for every synapse group (a spike shortcut's identity, each copy of a
    layer after a SEW sum), as the chip stores them; the groups of one population share its
    unit on the grid. The result is that form (rebuilt with ``to_snntorch``'s defaults).
    """
    if epochs_per_layer < 0 or final_epochs < 0:
        raise ConfigError(f"epochs_per_layer and final_epochs must be >= 0, got "
                          f"{epochs_per_layer} and {final_epochs}")
    start = time.perf_counter()
    # the caller's network stays as it was (as retrain's and prune's sources do not)
    net = copy.deepcopy(source) if isinstance(source, SpikingNetwork) else \
        to_snntorch(source, registry=registry)
    net = net.cpu()
    calibration = _tensors(train)[0] if calibration is None else calibration
    spec = to_spec(net)
    explicit = explicit_groups(spec)
    if explicit is not spec:  # a residual graph: every synapse group gets its own weights
        net, spec = to_snntorch(explicit), explicit
    loss_fn = as_loss(loss, spiking_readout(net))
    float_accuracy = evaluate_snn(net, test, device=device).accuracy
    before, _, _ = _fixed_accuracy(spec, calibration, test, input_bits)
    phases = []
    modules = weighted_modules(net)
    for k, (index, module) in enumerate(modules):
        # the grid of this layer as the network is now (its unit follows the layer's own
        # weights, and its population partners', while it trains; the factor and floor come
        # from the layers before)
        grids = weight_grids(to_spec(net.cpu()), calibration, input_bits=input_bits)
        partners = tuple((other, _weight_name(other), grids[j]) for j, other in modules
                         if j != index and grids[j].population == grids[index].population)
        put_on_grid(module, grids[index], partners)
        epochs = epochs_per_layer + (final_epochs if k == len(modules) - 1 else 0)
        finetune(net, train, FinetuneConfig(epochs=epochs, lr=lr, seed=seed + k, device=device,
                                            amsgrad=True, relative_threshold_lr=True),
                 progress=progress, desc=f"fixed point: layers[{index}] on the grid",
                 loss_fn=loss_fn)
        net.cpu()
        phases.append({"layer": index, "epochs": epochs,
                       "accuracy": evaluate_snn(net, test, device=device).accuracy})
    bake(net)
    net.cpu().eval()
    after, snapped, fixed = _fixed_accuracy(to_spec(net), calibration, test, input_bits)
    return QuantisationAwareResult(net, snapped, fixed, float_accuracy, before, after, phases,
                                   time.perf_counter() - start)
