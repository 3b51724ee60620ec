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


# --- max pooling: a pooling population of its own ---------------------------------------------

def test_max_pooling_of_spikes_becomes_a_pooling_population(make_maxpool_spec):
    spec = make_maxpool_spec(timesteps=3)
    stages = to_stages(spec)
    assert [(s.layer_index, s.kind) for s in stages] == [
        (0, "conv"), (1, "conv"), (2, "conv"), (3, "conv"), (5, "dense")]
    pool = stages[1]
    # unit weights from each window onto one neuron of the same channel, threshold half a spike
    assert pool.groups == 4 and pool.weight.shape == (4, 1, 2, 2) and bool((pool.weight == 1).all())
    assert pool.stride == (2, 2) and pool.reset == "zero" and pool.leak == 1.0
    assert bool((pool.threshold == 0.5).all()) and not pool.v_init.any() and not pool.bias.any()
    assert stages[3].stride == (1, 1) and stages[3].weight.shape == (6, 1, 3, 3)
    # the amplitude of the LIF layer before the pool goes into the weights after it
    assert torch.equal(stages[2].weight, spec.layers[2].weight.double() * 0.75)
    got = _same(spec)
    assert set(got.spikes) == {0, 1, 2, 3}


def test_max_pooling_after_a_dense_stage_is_a_dense_pooling_population():
    g = torch.Generator().manual_seed(4)
    layers = [
        S.Conv2d(torch.randn(3, 1, 3, 3, generator=g), None, None, S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.AvgPool2d((3, 3), (1, 1)),  # overlapping: the next conv becomes a dense stage
        S.Conv2d(torch.randn(4, 3, 3, 3, generator=g), None, None,
                 S.LIF(threshold=0.3, amplitude=2.0)),
        S.MaxPool2d((2, 2), (1, 1)),
        S.Flatten(),
        S.Linear(torch.randn(5, 4 * 3 * 3, generator=g), None, None, S.Integrator()),
    ]
    spec = S.NetworkSpec((1, 8, 8), layers, 2)
    stages = to_stages(spec)
    assert [s.kind for s in stages] == ["conv", "dense", "dense", "dense"]
    assert stages[2].live_synapses() == 4 * 3 * 3 * 4  # one per window tap
    got = _same(spec)
    assert 0 < got.spikes[3].mean() < 1


@pytest.mark.parametrize("mutate, pattern", [
    (lambda s: s.layers.insert(0, S.MaxPool2d((1, 1), (1, 1))),
     r"layers\[0\] \(MaxPool2d\): max pooling of the network's analog input cannot be "
     r"deployed"),
    (lambda s: s.layers.insert(1, S.AvgPool2d((1, 1), (1, 1))),
     r"layers\[2\] \(MaxPool2d\): max pooling after AvgPool2d pools values that are not "
     r"spikes"),
])
def test_max_pooling_of_anything_but_spikes_is_refused(make_maxpool_spec, mutate, pattern):
    spec = make_maxpool_spec()
    mutate(spec)
    simulate(spec, torch.rand(2, 1, 8, 8))  # a valid spec: the reference runs it
    with pytest.raises(SpecError, match=pattern):
        to_stages(spec)


@pytest.mark.parametrize("groups, limit, merged", [(4, 127, 4), (200, 127, 100), (131, 127, 1),
                                                   (12, 5, 4)])
def test_split_groups_computes_the_same_convolution(groups, limit, merged):
    from leanspike.loihi.stages import split_groups

    g = torch.Generator().manual_seed(groups)
    weight = torch.randn(2 * groups, 3, 2, 2, generator=g, dtype=torch.float64)
    x = torch.randn(2, 3 * groups, 5, 5, generator=g, dtype=torch.float64)
    new, n = split_groups(weight, groups, limit)
    assert n == merged and new.shape == (2 * groups, 3 * groups // merged, 2, 2)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, new, groups=n),
                               torch.nn.functional.conv2d(x, weight, groups=groups))


@pytest.mark.parametrize("per_neuron", [False, True])
def test_current_based_stages_emulate_the_spec(make_conv_spec, per_neuron):
    """A current state in each stage, its bias in the current: the emulation is the
    reference's network, spike for spike, with the current's decay differing per layer."""
    spec = make_conv_spec(per_neuron=per_neuron, timesteps=4)
    for (_, layer), leak in zip(spec.weighted_layers(), (0.5, 0.9, 0.25, 0.75)):
        layer.neuron.current_leak = leak
    stages = to_stages(spec)
    assert [st.current_leak for st in stages] == [0.5, 0.9, 0.25, 0.75]
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2
    got, want = emulate_float(stages, x, 4), simulate(spec, x)
    for i in want.spikes:
        assert torch.equal(got.spikes[i], want.spikes[i]), i
    torch.testing.assert_close(got.output, want.output, atol=1e-4, rtol=1e-5)
