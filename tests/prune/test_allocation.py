import pytest

from leanspike.errors import ConfigError
from leanspike.prune import allocate, balanced_sparsity

SIZES = [144, 4608, 18432, 32768, 1280]  # small_cnn's synapses per layer


def _kept(sparsities, sizes=SIZES):
    return [round((1 - s) * n) for s, n in zip(sparsities, sizes)]


def test_every_layer_keeps_the_same_number_of_synapses():
    kept = _kept(balanced_sparsity(SIZES, 0.99))
    assert kept == [114] * 5  # 1% of 57232 is 572.3: whole synapses, rounded down
    assert 1 - sum(kept) / sum(SIZES) >= 0.99


def test_layers_smaller_than_their_share_stay_whole_and_the_rest_is_shared():
    sparsities = balanced_sparsity(SIZES, 0.95)
    assert sparsities[0] == 0.0  # 144 synapses, less than a fifth of 2861
    kept = _kept(sparsities)
    assert kept[1:] == [679] * 4
    assert 1 - sum(kept) / sum(SIZES) == pytest.approx(0.95, abs=1e-4)
    assert 1 - sum(kept) / sum(SIZES) >= 0.95
    assert balanced_sparsity([10, 10], 0.0) == [0.0, 0.0]


def test_bad_allocation_inputs():
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        balanced_sparsity(SIZES, 1.0)
    with pytest.raises(ConfigError, match="must be positive"):
        balanced_sparsity([10, 0], 0.5)


def test_an_allocation_gives_per_layer_targets_or_none_for_one_global_target():
    assert allocate("global", SIZES, 0.9) is None
    assert allocate("balanced", SIZES, 0.99) == balanced_sparsity(SIZES, 0.99)
    assert allocate([0.5, 0.9], [10, 20], 0.8) == [0.5, 0.9]
    with pytest.raises(ConfigError, match="allocation has 2 sparsities for 5"):
        allocate([0.9, 0.9], SIZES, 0.9)
    with pytest.raises(ConfigError, match=r"\[0, 1\), got 1.0"):
        allocate([0.5, 1.0], [10, 20], 0.8)
    with pytest.raises(ConfigError, match="unknown allocation 'erk'"):
        allocate("erk", SIZES, 0.9)
