import warnings

import pytest
import torch

from leanspike import __version__, load_spec
from leanspike.adapters.snntorch import convert, prune, to_snntorch
from leanspike.adapters.snntorch.pruning import prune_with
from leanspike.data import load_dataset
from leanspike.errors import ConfigError
from leanspike.prune import DEFAULT_LR, PruneRecipe, balanced_sparsity
from leanspike.reference import simulate
from leanspike.registry import Registry
from leanspike.training import TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model


@pytest.fixture(scope="module")
def dense():
    splits = load_dataset("digits")
    set_seed(0)
    ann = create_model("small_cnn", channels=(8, 16, 16), hidden=(32,), activation="clip")
    train_ann(ann, splits, TrainConfig(epochs=12, device="cpu"), progress=False)
    out = convert(ann, splits, method="datta", timesteps=1, finetune_epochs=2, device="cpu",
                  progress=False)
    return out.network, splits


@pytest.mark.parametrize("method", ["gradr", "magnitude", "stds"])
def test_measured_sparsity_matches_the_target(dense, method):
    net, splits = dense
    result = prune(net, splits.train, splits.test, method=method, target_sparsity=0.9, epochs=4,
                   device="cpu", progress=False)
    # the default "balanced" allocation: whole synapses per layer, never short of the target
    assert 0.9 <= result.sparsity < 0.905
    assert result.accuracy > 0.5
    kept = [c.alive for c in result.layers]
    share = balanced_sparsity([c.total for c in result.layers], 0.9)
    share = [round((1 - s) * c.total) for s, c in zip(share, result.layers)]
    assert all(k <= n for k, n in zip(kept, share)), (kept, share)  # Grad R may keep fewer
    if method != "gradr":
        assert kept == share
    assert len(result.history) == 4
    if method != "magnitude":
        assert any("regrown" in h for h in result.history)
    # the input network is untouched
    assert all(not hasattr(m, "weight_mask") for m in net.modules())


@pytest.mark.parametrize("method", ["gradr", "magnitude"])
def test_the_papers_global_allocation_without_distillation(dense, method):
    net, splits = dense
    result = prune(net, splits.train, splits.test, method=method, target_sparsity=0.9, epochs=3,
                   allocation="global", distill=0.0, cosine=False, device="cpu",
                   progress=False)
    assert result.sparsity == pytest.approx(0.9, abs=0.02)
    # one global cut: the layers end up with different shares
    assert len({round(c.connectivity, 2) for c in result.layers}) > 1
    if method == "gradr":
        assert "alpha" in result.history[0] and result.history[-1]["sparsity"] >= 0.9 - 1e-6


def test_an_explicit_allocation_is_kept_per_layer(dense):
    net, splits = dense
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    allocation = [0.5, 0.9, 0.95, 0.95, 0.6][:len(layers)]
    result = prune(net, splits.train, splits.test, method="gradr", target_sparsity=0.9,
                   epochs=2, allocation=allocation, device="cpu", progress=False)
    for c, s in zip(result.layers, allocation):
        assert c.alive <= int((1 - s) * c.total + 1e-6)


def test_masks_survive_spec_and_registry_and_outputs_match(dense, tmp_path):
    net, splits = dense
    reg = Registry(tmp_path / "reg")
    result = prune(net, splits.train, splits.test, method="gradr", target_sparsity=0.8,
                   epochs=2, device="cpu", progress=False, registry=reg, name="p")
    spec = result.spec
    masks = [layer.mask for _, layer in spec.weighted_layers()]
    assert all(m is not None for m in masks)
    assert 1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks) == \
        pytest.approx(result.sparsity, abs=1e-6)
    back = load_spec(spec.save(tmp_path / "spec"))
    assert back.identical(spec)
    entry = reg.get(result.entry_ref)
    assert entry.stage == "pruned" and entry.metrics["sparsity"] == pytest.approx(result.sparsity)
    assert reg.load(entry).identical(spec)
    x = splits.test.tensors[0][:64]
    with torch.no_grad():
        before = result.network(x)
        after = to_snntorch(back)(x)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    torch.testing.assert_close(simulate(back, x).output, before, rtol=1e-5, atol=1e-5)
    assert result.synaptic_ops > 0 and result.energy_ratio > 0


def test_bad_pruning_arguments(dense):
    net, splits = dense
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match="unknown pruning method 'lottery'"):
            prune(net, splits.train, splits.test, method="lottery", progress=False)
        with pytest.raises(ConfigError, match=r"target sparsity must be in \[0, 1\)"):
            prune(net, splits.train, splits.test, method="magnitude", target_sparsity=1.0,
                  progress=False)
        with pytest.raises(ConfigError, match=r"\[0.5, 1\)"):
            prune(net, splits.train, splits.test, method="gradr", target_sparsity=0.2,
                  epochs=1, progress=False)
        with pytest.raises(ConfigError, match="unknown allocation 'erk'"):
            prune(net, splits.train, splits.test, allocation="erk", epochs=1, progress=False)
        with pytest.raises(ConfigError, match="allocation has 2 sparsities for 5"):
            prune(net, splits.train, splits.test, allocation=[0.9, 0.9], epochs=1,
                  progress=False)
        with pytest.raises(ConfigError, match=r"distill must be in \[0, 1\]"):
            prune(net, splits.train, splits.test, distill=1.5, epochs=1, progress=False)


def test_a_recipe_prunes_exactly_as_the_keywords_and_the_registry_records_it(dense, tmp_path):
    net, splits = dense
    by_keywords = prune(net, splits.train, splits.test, method="stds", target_sparsity=0.8,
                        epochs=2, device="cpu", progress=False,
                        registry=Registry(tmp_path / "a"), name="p")
    recipe = PruneRecipe(method="stds", target_sparsity=0.8, epochs=2)
    reg = Registry(tmp_path / "b")
    by_recipe = prune_with(net, splits.train, splits.test, recipe, device="cpu",
                           progress=False, registry=reg, name="p")
    assert by_recipe.history == by_keywords.history
    assert [h.keys() for h in by_recipe.history] == \
        [{"epoch", "loss", "train_accuracy", "pruned", "regrown", "threshold", "sparsity"},
         {"epoch", "loss", "train_accuracy", "sparsity"}]  # rewired, then fine-tuned
    for key, value in by_keywords.network.state_dict().items():
        assert torch.equal(by_recipe.network.state_dict()[key], value), key
    params = reg.get(by_recipe.entry_ref).params
    assert params.pop("leanspike_version") == __version__  # every stage records its code
    assert params == recipe.params() and params["lr"] == DEFAULT_LR["stds"]


def test_registering_needs_a_name_and_says_so_before_touching_the_network(tmp_path):
    with pytest.raises(ConfigError, match="needs a name"):  # no network, no data: not reached
        prune(None, None, None, epochs=1, registry=Registry(tmp_path / "r"), progress=False)
