"""Folding pooling, flatten and spike amplitude into hardware stages changes nothing."""

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import SpecError
from leanspike.loihi import emulate_float, to_stages
from leanspike.reference import simulate


def _same(spec, n=16):
    x = torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(0)) * 2
    want = simulate(spec, x)
    got = emulate_float(to_stages(spec), x, spec.timesteps)
    assert torch.allclose(got.output, want.output, atol=1e-5)
    for i in want.spikes:
        assert torch.equal(got.spikes[i], want.spikes[i]), f"layers[{i}]"
    return got


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_conv_pool_flatten_network(make_conv_spec, per_neuron, reset):
    spec = make_conv_spec(per_neuron=per_neuron, reset=reset, timesteps=3)
    stages = to_stages(spec)
    # the pool before the second conv became part of it: stride 2, padding doubled
    assert [s.kind for s in stages] == ["conv", "conv", "dense", "dense"]
    assert stages[1].stride == (2, 2) and stages[1].padding == (2, 0)
    assert stages[1].weight.shape[2:] == (6, 4)
    _same(spec)


def test_amplitude_moves_into_the_next_weights(make_mlp_spec):
    spec = make_mlp_spec(sizes=(6, 9, 4))
    spec.layers[0].neuron.amplitude = 0.37
    stages = to_stages(spec)
    assert torch.allclose(stages[1].weight, spec.layers[1].weight.double() * 0.37)
    _same(spec)


def test_irregular_pool_before_a_conv_becomes_a_dense_matrix():
    g = torch.Generator().manual_seed(1)
    layers = [
        S.Conv2d(torch.randn(3, 1, 3, 3, generator=g), None, None, S.LIF(threshold=0.6),
                 padding=(1, 1)),
        S.AvgPool2d((3, 3), (2, 2)),  # overlapping windows: not a tiling
        S.Conv2d(torch.randn(4, 3, 2, 2, generator=g), None, None, S.LIF(threshold=0.4)),
        S.Flatten(),
        S.Linear(torch.randn(5, 4 * 2 * 2, generator=g), None, None, S.Integrator()),
    ]
    spec = S.NetworkSpec((1, 7, 7), layers, 2)
    stages = to_stages(spec)
    assert [s.kind for s in stages] == ["conv", "dense", "dense"]
    _same(spec)


def test_a_masked_linear_after_pooling_keeps_its_pruned_synapses_out(make_conv_spec):
    spec = make_conv_spec()
    spec.layers[4].mask = (torch.rand(16, 72, generator=torch.Generator().manual_seed(2))
                           > 0.8).float()
    stage = to_stages(spec)[2]
    assert stage.mask is not None
    assert stage.live_synapses() == int(spec.layers[4].mask.sum())
    _same(spec)


def test_bad_specs_fail_before_anything_is_built(make_mlp_spec):
    spec = make_mlp_spec()
    spec.layers[1].weight = torch.randn(5, 7)  # expects 7 inputs, gets 20
    with pytest.raises(SpecError, match=r"layers\[1\].*weight"):
        to_stages(spec)
