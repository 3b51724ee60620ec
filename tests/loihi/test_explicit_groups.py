"""A residual graph with one weighted node per synapse group: the same stages, group for group,
and the same network."""

import dataclasses

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import SpecError
from leanspike.loihi import to_stages
from leanspike.loihi.explicit_groups import explicit_groups
from leanspike.reference import simulate
from leanspike.zoo.residual import sew_resnet


def _resnet(style: str, **kw):
    kw = dict(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
              timesteps=2, style=style, threshold=0.5) | kw
    return sew_resnet(**kw)


def _x(spec, n=16, seed=1):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("style", ["sew", "current"])
def test_every_group_becomes_a_node_and_the_stages_stay_group_for_group(style):
    spec = _resnet(style)
    explicit = explicit_groups(spec)
    assert explicit is not spec and len(explicit.layers) > len(spec.layers)
    if style == "sew":  # no sum of spike trains is left: each train has its copy of W
        assert not any(isinstance(layer, S.Add) and layer.neuron is None
                       for layer in explicit.layers)
    else:  # every Add sums currents of weighted nodes only
        for i, layer in enumerate(explicit.layers):
            if isinstance(layer, S.Add):
                assert all(isinstance(explicit.layers[j], S.WEIGHTED)
                           and explicit.layers[j].neuron is None
                           for j in explicit.inputs_of(i))
    before, after = to_stages(spec), to_stages(explicit)
    assert len(before) == len(after)
    for k, (a, b) in enumerate(zip(before, after)):
        assert a.relay == b.relay and torch.equal(a.bias, b.bias)
        groups_a, groups_b = a.synapse_groups(k), b.synapse_groups(k)
        assert len(groups_a) == len(groups_b)
        for g, h in zip(groups_a, groups_b):
            assert (g.source, g.kind, g.stride, g.padding) == (h.source, h.kind, h.stride,
                                                                h.padding)
            assert torch.equal(g.weight, h.weight), k
    x = _x(spec)
    want, got = simulate(spec, x), simulate(explicit, x)
    torch.testing.assert_close(got.output, want.output, atol=1e-5, rtol=1e-5)


def test_a_chain_and_a_graph_already_explicit_come_back_as_they_are(make_conv_spec):
    chain = make_conv_spec()
    assert explicit_groups(chain) is chain
    explicit = explicit_groups(_resnet("sew"))
    assert explicit_groups(explicit) is explicit


def test_a_shortcut_is_an_identity_worth_the_amplitude_of_its_source():
    spec = _resnet("current", widths=(4,))
    lifted = dataclasses.replace(spec, layers=[
        dataclasses.replace(layer, neuron=dataclasses.replace(layer.neuron, amplitude=0.75))
        if i == 0 else layer for i, layer in enumerate(spec.layers)])
    explicit = explicit_groups(lifted)
    shortcut = next(layer for layer in explicit.layers
                    if layer.name and layer.name.endswith("shortcut0"))
    assert torch.equal(shortcut.weight, torch.eye(4)[:, :, None, None])
    add = next(st for st in to_stages(explicit) if st.extra_synapses)
    assert torch.equal(add.extra_synapses[0].weight,
                       torch.eye(4, dtype=torch.float64)[:, :, None, None] * 0.75)


def test_names_stay_unique_and_the_copies_say_whose_they_are():
    explicit = explicit_groups(_resnet("sew"))
    names = [layer.name for layer in explicit.layers if layer.name]
    assert len(names) == len(set(names))
    assert {"fc.train0", "fc.train1", "fc", "pool", "pool.copy"} <= set(names)


def test_max_pooling_a_sum_of_spike_trains_is_refused_by_name():
    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((1, 4, 4), [
        S.Conv2d(torch.randn(2, 1, 1, 1, generator=g), neuron=S.LIF()),
        S.Conv2d(torch.randn(2, 2, 1, 1, generator=g), neuron=S.LIF()),
        S.Add(inputs=(0, 1)),
        S.MaxPool2d(),
        S.Flatten(),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.Integrator())], 2)
    with pytest.raises(SpecError, match=r"layers\[3\] \(MaxPool2d\): max pooling of a sum"):
        explicit_groups(spec)


def test_the_explicit_graph_saves_and_loads_bit_for_bit(tmp_path):
    spec = _resnet("sew")
    pruned = dataclasses.replace(spec, layers=[
        dataclasses.replace(layer, mask=(torch.rand_like(layer.weight) > 0.5).float())
        if isinstance(layer, S.WEIGHTED) else layer for layer in spec.layers])
    explicit = explicit_groups(pruned)
    explicit.save(tmp_path / "spec")  # copies share no tensor, which safetensors refuses
    assert S.NetworkSpec.load(tmp_path / "spec").identical(explicit)
