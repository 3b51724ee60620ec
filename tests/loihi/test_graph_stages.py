"""Residual graphs as hardware stages: one synapse group per spike train into a population,
relay populations where a shortcut skips hops, and the emulations equal to the reference."""

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import ConfigError, SpecError
from leanspike.loihi import emulate_fixed, emulate_float, quantize, to_stages
from leanspike.loihi.alignment import aligned, depths, latency
from leanspike.reference import simulate
from leanspike.zoo.residual import sew_resnet


def _resnet(style: str, **kw):
    kw = dict(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
              timesteps=2, style=style, threshold=0.5) | kw
    return sew_resnet(**kw)


def _x(spec, n=12, seed=1):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed))


def _assert_as_reference(spec, stages, x):
    want, got = simulate(spec, x), emulate_float(stages, x, spec.timesteps)
    assert sorted(got.spikes) == sorted(want.spikes)
    for i in want.spikes:
        assert torch.equal(got.spikes[i], want.spikes[i]), i
    torch.testing.assert_close(got.output, want.output, atol=1e-5, rtol=1e-5)
    return want


def _hop_before(stages) -> bool:
    d = depths(stages)
    return all(d[k] == 1 + (d[g.source] if g.source != S.INPUT else -1)
               for k, st in enumerate(stages) for g in st.synapse_groups(k))


@pytest.mark.parametrize("style", ["sew", "current"])
def test_residual_stages_spike_as_the_reference_and_every_source_is_one_hop_before(style):
    spec = _resnet(style)
    stages = to_stages(spec)
    assert _hop_before(stages)
    relays = [st for st in stages if st.relay]
    assert relays, "a shortcut skips hops: it needs relay populations"
    populations = [st.layer_index for st in stages if not st.relay]
    assert populations == spec.neuron_layers()  # one stage per neuron population, in order
    several = [st for st in stages if st.extra_synapses]
    assert len(several) == (3 if style == "sew" else 2)  # every block adds two paths
    want = _assert_as_reference(spec, stages, _x(spec))
    for i, s in want.spikes.items():  # a test that could fail: every layer is active
        assert 0.02 < float(s.mean()) < 0.8, (i, float(s.mean()))


def test_a_current_add_gets_its_convolution_and_unit_synapses_from_the_block_input():
    spec = _resnet("current", widths=(4,))
    stages = to_stages(spec)
    add = next(st for st in stages if st.extra_synapses)
    assert isinstance(spec.layers[add.layer_index], S.Add)
    own, shortcut = add.synapse_groups(stages.index(add))
    assert own.kind == shortcut.kind == "conv"
    assert shortcut.weight.shape[2:] == (1, 1)
    # unit synapses, each channel onto itself, times the block input's amplitude
    eye = torch.eye(4, dtype=torch.float64)[:, :, None, None]
    assert torch.equal(shortcut.weight, eye * stages[0].amplitude)
    assert stages[shortcut.source].relay  # the stem's spikes, delayed one hop


def test_a_chain_gets_one_group_per_stage_from_the_stage_before_and_no_relays():
    spec = S.NetworkSpec((6,), [S.Linear(torch.randn(5, 6), neuron=S.LIF()),
                                S.Linear(torch.randn(4, 5), neuron=S.LIF()),
                                S.Linear(torch.randn(3, 4), neuron=S.Integrator())], 2)
    stages = to_stages(spec)
    assert [st.source_of(k) for k, st in enumerate(stages)] == [S.INPUT, 0, 1]
    assert not any(st.relay or st.extra_synapses for st in stages)
    assert aligned(stages) is stages
    assert latency(stages) == len(stages)


def test_a_dense_residual_mlp_and_a_1d_residual_net_deploy_exactly():
    g = torch.Generator().manual_seed(3)
    mlp = S.NetworkSpec((6,), [
        S.Linear(torch.randn(8, 6, generator=g), neuron=S.LIF(threshold=0.5)),
        S.Linear(torch.randn(8, 8, generator=g) * 0.5, neuron=S.LIF(threshold=0.5)),
        S.Linear(torch.randn(8, 8, generator=g) * 0.5),
        S.Add(neuron=S.LIF(threshold=0.5), inputs=(2, 0)),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.Integrator())], 3)
    stages = to_stages(mlp)
    assert {st.kind for st in stages} == {"dense"}
    _assert_as_reference(mlp, stages, _x(mlp) * 2)
    signal = S.NetworkSpec((2, 12), [
        S.Conv1d(torch.randn(4, 2, 3, generator=g), neuron=S.LIF(threshold=0.5),
                 padding=(1,)),
        S.Conv1d(torch.randn(4, 4, 3, generator=g) * 0.5, padding=(1,)),
        S.Add(neuron=S.LIF(threshold=0.5), inputs=(1, 0)),
        S.Add(inputs=(2, 0)),  # and a SEW sum on top
        S.Flatten(),
        S.Linear(torch.randn(3, 48, generator=g), neuron=S.Integrator())], 2)
    stages = to_stages(signal)
    assert _hop_before(stages)
    _assert_as_reference(signal, stages, _x(signal) * 2)


def test_a_pooled_shortcut_and_a_flattened_sum_fold_into_dense_groups():
    g = torch.Generator().manual_seed(4)
    spec = S.NetworkSpec((1, 8, 8), [
        S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), neuron=S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.AvgPool2d(),
        S.Conv2d(torch.randn(4, 4, 3, 3, generator=g) * 0.5, neuron=S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.Add(inputs=(2, 1)),  # SEW: spikes plus the pooled stem (averages of spikes)
        S.Flatten(),
        S.Linear(torch.randn(3, 64, generator=g), neuron=S.Integrator())], 2)
    stages = to_stages(spec)
    readout = stages[-1]
    assert readout.kind == "dense" and len(readout.synapse_groups(len(stages) - 1)) == 2
    _assert_as_reference(spec, stages, _x(spec) * 2)


def test_a_shortcut_from_the_analog_input_past_layers_is_refused_naming_the_node():
    g = torch.Generator().manual_seed(5)
    spec = S.NetworkSpec((6,), [
        S.Linear(torch.randn(6, 6, generator=g), neuron=S.LIF()),
        S.Add(inputs=(0, S.INPUT), name="skip"),
        S.Linear(torch.randn(3, 6, generator=g), neuron=S.Integrator())], 2)
    with pytest.raises(SpecError, match=r"layers\[2\] \(Linear\).*analog input past other "
                                        r"layers"):
        to_stages(spec)


def test_max_pooling_a_sew_sum_is_refused():
    g = torch.Generator().manual_seed(6)
    spec = S.NetworkSpec((1, 4, 4), [
        S.Conv2d(torch.randn(2, 1, 3, 3, generator=g), neuron=S.LIF(), padding=(1, 1)),
        S.Conv2d(torch.randn(2, 2, 3, 3, generator=g), neuron=S.LIF(), padding=(1, 1)),
        S.Add(inputs=(1, 0)),
        S.MaxPool2d(),
        S.Flatten(),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.Integrator())], 2)
    with pytest.raises(SpecError, match=r"layers\[3\] \(MaxPool2d\)"):
        to_stages(spec)


@pytest.mark.parametrize("style", ["sew", "current"])
def test_fixed_point_groups_share_their_population_unit_and_stay_close_to_float(style):
    spec = _resnet(style)
    x = _x(spec, 40)
    stages = to_stages(spec)
    net = quantize(stages, x, timesteps=spec.timesteps)
    for k, fs in enumerate(net.stages):
        groups = fs.synapse_groups(k)
        assert len(groups) == 1 + len(fs.stage.extra_synapses)
        for group, w in groups:  # each group's integers, in the one unit, are its weights
            err = (w.to(torch.float64) * fs.unit - group.effective_weight()).abs().max()
            assert float(err) <= fs.unit * (1 << fs.weight_exp) + 1e-12
    result, raw = emulate_fixed(net, x)
    float_out = emulate_float(stages, x, spec.timesteps)
    agree = (result.output.argmax(1) == float_out.output.argmax(1)).float().mean()
    assert agree >= 0.6  # 8-bit weights of an untrained net; exactness is tested on Lava
    assert sorted(result.spikes) == sorted(float_out.spikes)


def test_fixed_point_refuses_a_second_group_on_the_analog_input():
    g = torch.Generator().manual_seed(7)
    spec = S.NetworkSpec((6,), [
        S.Linear(torch.randn(6, 6, generator=g)),
        S.Linear(torch.randn(6, 6, generator=g), inputs=(S.INPUT,)),
        S.Add(neuron=S.LIF(), inputs=(0, 1)),
        S.Linear(torch.randn(3, 6, generator=g), neuron=S.Integrator())], 2)
    stages = to_stages(spec)
    _assert_as_reference(spec, stages, _x(spec))
    with pytest.raises(ConfigError, match=r"layers\[2\]: more than the first population's own "
                                          r"synapses receive the network's input"):
        quantize(stages, _x(spec), timesteps=2)
