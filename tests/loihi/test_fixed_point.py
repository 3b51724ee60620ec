"""Loihi 2 fixed point: ranges as the chip has them, Lava's arithmetic, little loss."""

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.loihi import emulate_fixed, emulate_float, quantize, to_stages
from leanspike.loihi import fixed_point as fx


def _net(spec, n=32, **kw):
    x = torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(0)) * 2
    return quantize(to_stages(spec), x, timesteps=spec.timesteps, **kw), x


def test_every_integer_fits_its_loihi_register(make_conv_spec):
    net, _ = _net(make_conv_spec(per_neuron=True))
    for fs in net.stages:
        assert fs.weight.abs().max() <= 256 and bool((fs.weight % 2 == 0).all())
        assert fs.bias_mant.abs().max() <= fx.BIAS_MANT_MAX + 1
        if fs.vth is not None:
            assert 1 <= int(fs.vth.min()) and int(fs.vth.max()) <= fx.VTH_MANT_MAX
        assert 0 <= fs.dv < 4096
    # the largest weight of each layer uses the whole 8-bit mantissa
    assert all(int(fs.weight.abs().max()) >= 252 for fs in net.stages)


def test_small_weight_error_and_same_behaviour_as_float(make_conv_spec):
    spec = make_conv_spec(timesteps=4)
    net, x = _net(spec, n=200)
    assert max(r.weight_rmse for r in net.report) < 0.005
    fixed, _ = emulate_fixed(net, x)
    ref = emulate_float(to_stages(spec), x, spec.timesteps)
    for i in ref.spikes:  # firing rates within a couple of points
        assert abs(float(fixed.spikes[i].mean() - ref.spikes[i].mean())) < 0.02
    assert float((fixed.output - ref.output).abs().median()) < 0.05 * float(ref.output.std())


def test_thresholds_larger_than_17_bits_make_coarser_weight_units(make_mlp_spec):
    spec = make_mlp_spec(sizes=(4, 6, 3))
    spec.layers[0].neuron.threshold = 1e4  # 254 weight units span ~2.5: 1e4 needs ~2**20
    net, _ = _net(spec)
    fs = net.stages[0]
    assert int(fs.vth.max()) == fx.VTH_MANT_MAX
    assert int(fs.weight.abs().max()) < 254


def test_decay_rounds_towards_zero_like_loihi():
    v = torch.tensor([4096, -4096, 4095, -4095, 1, -1])
    assert fx.decay(v, 2048).tolist() == [2048, -2048, 2047, -2047, 0, 0]


def test_state_wraps_and_clips_as_lava_does():
    assert fx.wrap(torch.tensor([2**23, -(2**23) - 1]), 24).tolist() == [-(2**23), 2**23 - 1]
    v, _, s = fx.lif_fixed(torch.tensor([2**23 - 10]), torch.tensor([0]), torch.tensor([1000]),
                           torch.tensor([0]), fx.NO_MEMORY, 0, None, "subtract")
    assert v.tolist() == [2**23 - 1]


def test_quantize_needs_an_input_range(make_mlp_spec):
    with pytest.raises(ConfigError, match="input_range"):
        quantize(to_stages(make_mlp_spec()), timesteps=2)


def test_a_full_decay_is_refused(make_mlp_spec):
    spec = make_mlp_spec()
    spec.layers[0].neuron.leak = 0.0
    with pytest.raises(ConfigError, match=r"layers\[0\].*leak"):
        _net(spec)


@pytest.mark.parametrize("timesteps", [1, 3])
def test_a_pooling_population_is_an_exact_or_in_loihi_integers(make_maxpool_spec, timesteps):
    import torch.nn.functional as F

    spec = make_maxpool_spec(timesteps=timesteps)
    net, x = _net(spec)
    pool = net.stages[1]
    # a spike is 254 weight units, the threshold half of it: any spike of the window fires
    assert pool.weight.unique().tolist() == [254] and pool.vth.unique().tolist() == [127]
    assert pool.weight_exp == 0 and pool.dv == 0 and not pool.bias_mant.any()
    fixed, _ = emulate_fixed(net, x)
    for lif, pooled in ((0, 1), (2, 3)):
        layer = spec.layers[pooled]
        s = fixed.spikes[lif]
        want = F.max_pool2d(s.flatten(0, 1), layer.kernel_size, layer.stride)
        assert torch.equal(fixed.spikes[pooled], want.reshape(*s.shape[:2], *want.shape[1:]))
    assert 0 < fixed.spikes[1].mean() < 1


def test_the_first_layers_current_never_outgrows_24_bits_on_the_calibration_inputs():
    """9-bit payloads (256 grey levels) times full 8-bit weights over a 5x5 kernel would wrap
    Loihi's 24-bit current; the weight unit is coarsened until the largest current fits."""
    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((1, 12, 12), [
        S.Conv2d(torch.rand(3, 1, 5, 5, generator=g) + 0.5, None, None, S.LIF(threshold=2.0)),
        S.Flatten(),
        S.Linear(torch.randn(4, 192, generator=g), None, None, S.Integrator())], timesteps=1)
    x = torch.randint(0, 256, (20, 1, 12, 12), generator=g) / 255.0  # a 256-level lattice
    net = quantize(to_stages(spec), x, timesteps=1, input_bits=9)
    assert net.encoding.exact
    first = net.stages[0]
    a = first.synapse(net.quantize_input(x))
    assert int(a.abs().max()) << fx.ACT_SHIFT <= fx.STATE_MAX
    free = fx.quantize_stage(fx._encoded_first_stage(to_stages(spec)[0], net.encoding))[0]
    assert int(free.synapse(net.quantize_input(x)).abs().max()) << fx.ACT_SHIFT > fx.STATE_MAX
    assert first.unit > free.unit  # precision given up, not the current wrapped


def test_a_snapped_spec_quantises_to_its_own_integers_where_the_data_chose_the_unit():
    """Where the 24-bit headroom sets the first unit (from the data, not the weights), the
    snapped spec's recorded units pin its quantisation: its integers come back exactly."""
    from leanspike.loihi import snap_to_fixed_point

    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((1, 12, 12), [
        S.Conv2d(torch.rand(3, 1, 5, 5, generator=g) + 0.5, None, None, S.LIF(threshold=2.0)),
        S.Flatten(),
        S.Linear(torch.randn(4, 192, generator=g), None, None, S.Integrator())], timesteps=1)
    x = torch.randint(0, 256, (20, 1, 12, 12), generator=g) / 255.0
    snapped, fixed = snap_to_fixed_point(spec, x, input_bits=9)
    stages = to_stages(snapped)
    again = quantize(stages, x, timesteps=1, input_bits=9,
                     pinned=fx.pinned_units(snapped.metadata, stages))
    for a, b in zip(fixed.stages, again.stages):
        assert a.unit == b.unit and torch.equal(a.weight, b.weight) and torch.equal(a.vth, b.vth) \
            if a.vth is not None else torch.equal(a.weight, b.weight)
    unpinned = quantize(stages, x, timesteps=1, input_bits=9)
    assert unpinned.stages[0].unit != fixed.stages[0].unit  # what pinning is for
