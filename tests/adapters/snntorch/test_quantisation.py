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


@pytest.fixture(scope="module", params=["sew", "current"])
def trained_resnet(request, digits):
    """A tiny residual SNN of each style trained briefly at T=2 on digits."""
    from leanspike.adapters.snntorch.training import FinetuneConfig, finetune
    from leanspike.zoo.residual import sew_resnet

    torch.manual_seed(0)
    spec = sew_resnet(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
                      timesteps=2, style=request.param, threshold=0.5)
    net = to_snntorch(spec, surrogate="triangular")
    finetune(net, digits.train, FinetuneConfig(epochs=6, lr=1e-2), progress=False)
    return to_spec(net.eval())


def test_a_residual_graph_trains_onto_the_grid_with_every_group_its_own_weights(
        trained_resnet, digits):
    from torch.utils.data import TensorDataset

    from leanspike.loihi.explicit_groups import explicit_groups

    train = TensorDataset(*(t[:400] for t in digits.train.tensors))
    result = fine_tune_fixed_point(trained_resnet, train, digits.test, epochs_per_layer=1,
                                   final_epochs=0, progress=False)
    explicit = explicit_groups(trained_resnet)
    trained = to_spec(result.network)
    assert [p["layer"] for p in result.phases] == [i for i, _ in explicit.weighted_layers()]
    assert len(trained.layers) == len(explicit.layers)
    for (i, layer), (_, snapped) in zip(trained.weighted_layers(),
                                        result.spec.weighted_layers()):
        assert torch.equal(layer.weight, snapped.weight), i  # already on the grid
        if layer.name and "shortcut" in layer.name and layer.weight.shape[2:] == (1, 1) \
                and layer.mask is not None:  # an identity stays unit synapses
            off = 1 - torch.eye(layer.weight.shape[0])[:, :, None, None]
            assert not bool((layer.weight * off).any()), i
    # ten classes; a tiny net trained briefly (measured 0.26-0.45 float, 0.40 after)
    assert result.fixed_accuracy > 0.2 and result.float_accuracy > 0.15


def test_the_groups_of_a_population_share_their_unit_while_they_train(trained_resnet, digits):
    from leanspike.loihi.explicit_groups import explicit_groups

    explicit = explicit_groups(trained_resnet)
    x = digits.train.tensors[0]
    grids = weight_grids(explicit, x)
    net = to_snntorch(explicit)
    modules = dict(weighted_modules(net))
    shared = next(p for p in {g.population for g in grids.values()}
                  if sum(g.population == p for g in grids.values()) > 1)
    members = [i for i, g in grids.items() if g.population == shared]
    for i in members:
        put_on_grid(modules[i], grids[i], tuple(
            (modules[j], "weight" if not hasattr(modules[j], "weight_orig") else "weight_orig",
             grids[j]) for j in members if j != i))
    with torch.no_grad():  # grow one partner: the unit of the others follows it
        modules[members[1]].parametrizations[
            "weight_orig" if hasattr(modules[members[1]], "weight_orig") else "weight"
        ].original.mul_(3.0)
    snapped, _ = snap_to_fixed_point(to_spec(net), x)
    for i in members:
        assert torch.equal(to_spec(net).layers[i].weight, snapped.layers[i].weight), i
