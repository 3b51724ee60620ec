import pytest
import torch

from leanspike.errors import ConfigError
from leanspike.stdp import NEVER, dog_kernel, dog_on_off, intensity_to_latency


def test_brighter_fires_earlier():
    x = torch.tensor([[0.0, 0.05, 0.2, 0.5, 0.8, 1.0]])
    t = intensity_to_latency(x, 16)[0].tolist()
    assert t[0] == NEVER                       # no intensity, no spike
    assert t[-1] == 0                          # the brightest fires first
    fired = t[1:]
    assert fired == sorted(fired, reverse=True) and len(set(fired)) == len(fired)


def test_latency_order_matches_intensity_order_on_random_images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 1, 8, 8, generator=g)
    t = intensity_to_latency(x, 32)
    a, b = x.reshape(20, -1), t.reshape(20, -1)
    brighter = a[:, :, None] > a[:, None, :] + 1 / 32     # clearly brighter: a bin or more
    assert bool((b[:, :, None] < b[:, None, :])[brighter].all())
    not_darker = a[:, :, None] >= a[:, None, :]
    assert bool((b[:, :, None] <= b[:, None, :])[not_darker].all())


def test_each_sample_is_normalised_by_its_peak():
    x = torch.tensor([[0.25, 0.5], [0.5, 1.0]])
    t = intensity_to_latency(x, 8)
    assert torch.equal(t[0], t[1])             # same contrast, same code
    assert t[0].tolist() == [4, 0]
    raw = intensity_to_latency(x, 8, normalize=False)
    assert raw[0].tolist() == [6, 4]


def test_negative_intensity_is_refused():
    with pytest.raises(ConfigError, match="non-negative"):
        intensity_to_latency(torch.tensor([[-0.1, 0.5]]), 8)


def test_dog_on_off_separates_a_bright_dot_from_its_surround():
    assert abs(float(dog_kernel(5).sum())) < 1e-12
    img = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    img[0, 0, 4, 4] = 1.0
    out = dog_on_off(img, size=5)
    assert out.shape == (1, 2, 9, 9) and bool((out >= 0).all())
    on, off = out[0, 0], out[0, 1]
    assert on[4, 4] == on.max() > 0 and off[4, 4] == 0       # ON at the dot
    assert off[4, 6] > 0 and on[4, 6] == 0                   # OFF in its surround
    t = intensity_to_latency(out, 16)
    assert t[0, 0, 4, 4] == 0
