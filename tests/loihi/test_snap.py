"""A spec snapped to the Loihi 2 grid is the network the chip runs: its float run makes the
same decisions as the integer one, and snapping again changes nothing."""

import dataclasses

import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, emulate_float, quantize, to_stages
from leanspike.loihi.snap import snap_to_fixed_point

RANGE = 2.0


def _no_leak(spec):
    layers = [dataclasses.replace(layer, neuron=dataclasses.replace(layer.neuron, leak=1.0))
              if isinstance(layer, S.WEIGHTED) else layer for layer in spec.layers]
    return dataclasses.replace(spec, layers=layers)


def _lattice_inputs(spec, n=256):
    """Inputs the 8-bit encoding represents exactly (multiples of its step)."""
    g = torch.Generator().manual_seed(3)
    k = torch.randint(-127, 128, (n, *spec.input_shape), generator=g)
    return k.to(torch.float64) * (RANGE / 127)


def _integers(net):
    return [(fs.weight, fs.weight_exp, fs.vth, fs.bias_mant, fs.v_init, fs.dv)
            for fs in net.stages]


def _same(a, b):
    return all((x is None and y is None) or (torch.equal(x, y) if torch.is_tensor(x) else x == y)
               for sa, sb in zip(a, b) for x, y in zip(sa, sb))


@pytest.mark.parametrize("timesteps", [1, 3])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_float_twin_and_fixed_point_make_the_same_decisions(make_conv_spec, timesteps,
                                                            per_neuron):
    spec = _no_leak(make_conv_spec(timesteps=timesteps, per_neuron=per_neuron))
    snapped, _ = snap_to_fixed_point(spec, input_range=RANGE)
    fixed = quantize(to_stages(snapped), input_range=RANGE, timesteps=timesteps)
    x = _lattice_inputs(spec)
    twin = emulate_float(to_stages(snapped), x, timesteps)
    chip, _ = emulate_fixed(fixed, x)
    # Only exact ties (v == threshold in integers) can go either way in float arithmetic
    for i in twin.spikes:
        differ = float((twin.spikes[i] != chip.spikes[i]).float().mean())
        assert differ < 0.002, f"layers[{i}]: {differ:.2%} of spikes differ"
    assert float((twin.output.argmax(1) == chip.output.argmax(1)).float().mean()) >= 0.95


def test_snapping_is_idempotent_and_keeps_masks(make_conv_spec):
    spec = _no_leak(make_conv_spec(timesteps=2, per_neuron=True))
    once, fixed_once = snap_to_fixed_point(spec, input_range=RANGE)
    twice, fixed_twice = snap_to_fixed_point(once, input_range=RANGE)
    assert _same(_integers(quantize(to_stages(once), input_range=RANGE, timesteps=2)),
                 _integers(fixed_twice))
    for a, b in zip(once.weighted_layers(), twice.weighted_layers()):
        assert torch.equal(a[1].weight, b[1].weight)
    masked = spec.layers[2]
    assert torch.equal(once.layers[2].mask, masked.mask)
    assert once.metadata["fixed_point"]["snapped"] and spec.metadata == {"made_by": "test"}


def test_snapping_moves_values_by_at_most_half_a_step(make_conv_spec):
    spec = make_conv_spec(timesteps=1)
    snapped, fixed = snap_to_fixed_point(spec, input_range=RANGE)
    for (i, a), (_, b) in zip(spec.weighted_layers(), snapped.weighted_layers()):
        fs = next(f for f in fixed.stages if f.stage.layer_index == i)
        step = float((a.weight - b.weight).abs().max())
        assert 0 < step and float(b.weight.abs().max()) == pytest.approx(
            float(a.weight.abs().max()), rel=0.01)
        if a.bias is not None:
            assert float((a.bias - b.bias).abs().max()) <= fs.unit / 2 + 1e-9


@pytest.mark.parametrize("timesteps", [1, 3])
def test_a_max_pooled_spec_snaps_to_the_network_the_chip_runs(make_maxpool_spec, timesteps):
    """The pooling populations are exact in integers: snapping leaves the pools alone and the
    layer after a pool gets the amplitude before it, as in float."""
    spec = _no_leak(make_maxpool_spec(timesteps=timesteps))
    snapped, _ = snap_to_fixed_point(spec, input_range=RANGE)
    assert isinstance(snapped.layers[1], S.MaxPool2d) and isinstance(snapped.layers[3], S.MaxPool2d)
    fixed = quantize(to_stages(snapped), input_range=RANGE, timesteps=timesteps)
    twice, fixed_twice = snap_to_fixed_point(snapped, input_range=RANGE)
    assert _same(_integers(fixed), _integers(fixed_twice))
    x = _lattice_inputs(spec)
    twin = emulate_float(to_stages(snapped), x, timesteps)
    chip, _ = emulate_fixed(fixed, x)
    assert set(chip.spikes) == {0, 1, 2, 3}
    for i in twin.spikes:
        differ = float((twin.spikes[i] != chip.spikes[i]).float().mean())
        assert differ < 0.002, f"layers[{i}]: {differ:.2%} of spikes differ"


def test_a_threshold_below_half_a_unit_snaps_to_one_unit_as_quantize_does():
    """Quantisation clips a threshold mantissa to at least 1; the snapped spec must say the
    same (rounding to 0 would be an invalid spec and a different network)."""
    import torch

    from leanspike import spec as S
    from leanspike.loihi import snap_to_fixed_point

    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((6,), [
        S.Linear(torch.randn(5, 6, generator=g) * 10, None, None, S.LIF(threshold=1e-6)),
        S.Linear(torch.randn(3, 5, generator=g), None, None, S.Integrator())], timesteps=1)
    snapped, fixed = snap_to_fixed_point(spec.validate(), torch.rand(20, 6, generator=g))
    threshold = snapped.layers[0].neuron.threshold
    assert threshold > 0
    assert threshold == float(fixed.stages[0].vth.min()) * fixed.stages[0].unit
