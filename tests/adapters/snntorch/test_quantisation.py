"""Fixed point in the training loop: weights trained onto Loihi 2's grid layer by layer, with a
straight-through gradient; snapping the result moves no weight, masks stay, and the network's
fixed-point accuracy is measured before and after."""

import warnings

import pytest
import torch
from torch.nn.utils import parametrize

from leanspike.adapters.snntorch import prune, to_snntorch, to_spec
from leanspike.adapters.snntorch.quantisation import (
    OnGrid,
    fine_tune_fixed_point,
    put_on_grid,
    weighted_modules,
)
from leanspike.convert import convert
from leanspike.loihi import snap_to_fixed_point
from leanspike.loihi.snap import weight_grids
from leanspike.training import TrainConfig, train_ann
from leanspike.zoo import create_model


@pytest.fixture(scope="module")
def trained_spec(digits):
    """A small CNN trained briefly and converted to T=2 on digits."""
    torch.manual_seed(0)
    model = create_model("small_cnn", channels=(4, 8, 8), hidden=(32,), activation="clip")
    train_ann(model, digits, TrainConfig(epochs=3), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spec, _ = convert(model.eval(), digits.train, timesteps=2)
    return spec


def test_the_forward_is_the_grid_and_the_gradient_passes_through(trained_spec, digits):
    x = digits.train.tensors[0]
    grid = weight_grids(trained_spec, x)[0]
    w = trained_spec.layers[0].weight.clone().requires_grad_(True)
    out = OnGrid(grid)(w)
    assert torch.equal(out.detach(), grid.on_grid(w))
    assert torch.equal(out.detach(), snap_to_fixed_point(trained_spec, x)[0].layers[0].weight)
    (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
    assert torch.equal(w.grad, torch.arange(out.numel()).reshape(out.shape).float())


def test_a_parametrized_layer_is_still_read_as_a_spec_layer(trained_spec, digits):
    net = to_snntorch(trained_spec)
    index, module = weighted_modules(net)[0]
    put_on_grid(module, weight_grids(trained_spec, digits.train.tensors[0])[index])
    assert parametrize.is_parametrized(module, "weight")
    spec = to_spec(net)
    assert not torch.equal(spec.layers[index].weight, trained_spec.layers[index].weight)
    assert torch.equal(spec.layers[index].weight, weight_grids(trained_spec, digits.train.tensors[
        0])[index].on_grid(trained_spec.layers[index].weight))


def test_fine_tuning_onto_the_grid_leaves_nothing_for_snapping_to_move(trained_spec, digits):
    net = to_snntorch(trained_spec)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = fine_tune_fixed_point(net, digits.train, digits.test, epochs_per_layer=1,
                                   final_epochs=0, progress=False)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # a copy trained
    assert [p["layer"] for p in result.phases] == [i for i, _ in trained_spec.weighted_layers()]
    trained = to_spec(result.network)
    for (i, layer), (_, snapped) in zip(trained.weighted_layers(),
                                        result.spec.weighted_layers()):
        assert torch.equal(layer.weight, snapped.weight), i  # already on the grid
    assert result.fixed_accuracy > 0.5 and result.float_accuracy > 0.5  # ten classes


def test_a_pruned_network_keeps_its_masks(trained_spec, digits):
    pruned = prune(trained_spec, digits.train, digits.test, target_sparsity=0.8, epochs=2,
                   progress=False)
    result = fine_tune_fixed_point(pruned.network, digits.train, digits.test,
                                   epochs_per_layer=1, final_epochs=0, progress=False)
    for (i, before), (_, after) in zip(pruned.spec.weighted_layers(),
                                       to_spec(result.network).weighted_layers()):
        assert torch.equal(before.mask, after.mask), i
    assert result.fixed_accuracy > 0.3
