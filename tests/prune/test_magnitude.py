import pytest
import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune import apply_masks, cubic_schedule, effective_weight, magnitude_masks


def _layers():
    torch.manual_seed(0)
    return [nn.Linear(10, 10), nn.Conv2d(1, 4, 3)]


def test_global_and_per_layer_masks_keep_the_largest_weights():
    layers = _layers()
    masks = magnitude_masks(layers, 0.75, scope="global")
    total = sum(m.numel() for m in masks)
    assert sum(int(m.sum()) for m in masks) == total - round(0.75 * total)
    kept = torch.cat([(l.weight.abs() * m).flatten() for l, m in zip(layers, masks)])
    dropped = torch.cat([(l.weight.abs() * (1 - m)).flatten() for l, m in zip(layers, masks)])
    assert kept[kept > 0].min() >= dropped.max()
    per_layer = magnitude_masks(layers, 0.5, scope="layer")
    assert [int(m.sum()) for m in per_layer] == [50, 18]
    with pytest.raises(ConfigError):
        magnitude_masks(layers, 1.0)


def test_masks_compose_and_pruned_weights_stay_pruned():
    layers = _layers()
    apply_masks(layers, magnitude_masks(layers, 0.5))
    first = [effective_weight(l) == 0 for l in layers]
    with torch.no_grad():
        for l in layers:
            l.weight_orig.add_(0.01)  # training moves the kept weights
    apply_masks(layers, magnitude_masks(layers, 0.8))
    for l, was_zero in zip(layers, first):
        assert torch.all(effective_weight(l)[was_zero] == 0)


def test_cubic_schedule():
    assert cubic_schedule(0, 10, 0.9) == pytest.approx(0.0)
    assert cubic_schedule(10, 10, 0.9) == 0.9
    values = [cubic_schedule(s, 10, 0.9) for s in range(11)]
    assert values == sorted(values)
    assert values[1] - values[0] > values[10] - values[9]  # fast first, then gentle
