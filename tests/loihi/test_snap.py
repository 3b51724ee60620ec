"""A spec snapped to the Loihi 2 grid is the network the chip runs: its float run makes the
same decisions as the integer one, and snapping again changes nothing."""

import dataclasses

import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, emulate_float, quantize, to_stages
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.snap import TIE_BREAK, _snapped_v_init, snap_to_fixed_point

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
    # the threshold in the gap above its integer: even exact ties (v == vth) decide as on chip
    for i in twin.spikes:
        assert torch.equal(twin.spikes[i], chip.spikes[i]), f"layers[{i}]"
    torch.testing.assert_close(twin.output, chip.output, atol=1e-5, rtol=1e-5)
    top2 = chip.output.topk(2, dim=1).values
    untied = top2[:, 0] > top2[:, 1]  # two equal integer potentials: either is the argmax
    assert torch.equal(twin.output.argmax(1)[untied], chip.output.argmax(1)[untied])


def test_without_the_tie_break_exact_ties_would_go_either_way(make_conv_spec):
    """The control: the threshold on its integer's value lets float rounding decide ties."""
    spec = _no_leak(make_conv_spec(timesteps=3, per_neuron=False))
    snapped, fixed = snap_to_fixed_point(spec, input_range=RANGE)
    by = {fs.stage.layer_index: fs for fs in fixed.stages}
    on_integer = dataclasses.replace(snapped, layers=[
        dataclasses.replace(layer, neuron=dataclasses.replace(
            layer.neuron, threshold=float(by[i].vth.flatten()[0]) * by[i].unit))
        if isinstance(getattr(layer, "neuron", None), S.LIF) else layer
        for i, layer in enumerate(snapped.layers)])
    x = _lattice_inputs(spec)
    twin = emulate_float(to_stages(on_integer), x, 3)
    chip, _ = emulate_fixed(fixed, x)
    assert any(not torch.equal(twin.spikes[i], chip.spikes[i]) for i in twin.spikes)


def _leak(spec, leak):
    layers = [dataclasses.replace(layer, neuron=dataclasses.replace(layer.neuron, leak=leak))
              if isinstance(layer, S.WEIGHTED) else layer for layer in spec.layers]
    return dataclasses.replace(spec, layers=layers)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_at_one_step_a_leaky_initial_potential_decides_as_on_chip(make_conv_spec, per_neuron):
    """Loihi decays v_init rounding toward zero; the snapped v_init is the one whose exact
    decay is that (a leak of 0.9: 64 * 0.9 is no integer, so the rounding shows)."""
    spec = _leak(make_conv_spec(timesteps=1, per_neuron=per_neuron), 0.9)
    snapped, fixed = snap_to_fixed_point(spec, input_range=RANGE)
    x = _lattice_inputs(spec, 512)
    twin = emulate_float(to_stages(snapped), x, 1)
    chip, _ = emulate_fixed(fixed, x)
    for i in twin.spikes:
        assert torch.equal(twin.spikes[i], chip.spikes[i]), f"layers[{i}]"
    # deploying the snapped spec (its units pinned) gives back the same integers
    stages = to_stages(snapped)
    again = quantize(stages, input_range=RANGE, timesteps=1,
                     pinned=fx.pinned_units(snapped.metadata, stages))
    assert _same(_integers(fixed), _integers(again))


@pytest.mark.parametrize("leak", [0.9, 0.95, 0.5 + 1 / 4096, 0.04, 1 / 4096, 1.0])
def test_an_initial_potential_decays_to_whole_units_on_chip_and_in_the_twin(leak):
    """The chip's v0 is the least integer whose decay is n whole units (n nearest
    leak * v_init), so the decayed start is one more bias mantissa; the twin's snapped v_init
    decays to the same n units exactly (to float rounding) and quantises back to the same n.
    The control: v_init's nearest unit << 6 decays to no whole unit for most values."""
    unit = 2.0 ** -10
    dv = fx.decay_constant(leak)
    kept = 1 - dv / 4096
    v_init = torch.linspace(-3.0, 3.0, 20001).double()  # float32 values, as a spec holds
    n = torch.round(leak * v_init / unit).to(torch.int64)
    v0 = fx.initial_potential(v_init, leak, dv, unit)
    assert torch.equal(fx.decay(v0, dv), n << fx.ACT_SHIFT)
    smaller = v0 - torch.sign(v0)  # one step toward zero decays to less
    assert bool((fx.decay(smaller, dv).abs() < (n.abs() << fx.ACT_SHIFT))[n != 0].all())
    twin = _snapped_v_init(v_init.float(), leak, kept, unit)
    torch.testing.assert_close(kept * twin.double() / unit, n.double(), rtol=1e-6, atol=1e-9)
    assert torch.equal(fx.initial_units(twin, kept, unit), n)
    plain = torch.round(v_init / unit).to(torch.int64) << fx.ACT_SHIFT
    whole = fx.decay(plain, dv) % (1 << fx.ACT_SHIFT) == 0
    assert bool(whole.all()) == (leak == 1.0)


def _offset_lattice(spec, n=512, levels=17):
    """Standardised pixels: 17 levels on a lattice 0.4 of a step off zero (float64:
    float32 pixels would sit off their lattice by rounding, which the twin's current carries)."""
    g = torch.Generator().manual_seed(4)
    k = torch.randint(0, levels, (n, *spec.input_shape), generator=g).to(torch.float64)
    return (k / (levels - 1) - 0.4) / 0.3


def _deployed(spec, x, input_bits=8):
    """(snapped spec, its stages, the integers deployment runs: units pinned)."""
    snapped, _ = snap_to_fixed_point(spec, x, input_bits=input_bits)
    stages = to_stages(snapped)
    fixed = quantize(stages, x, timesteps=spec.timesteps, input_bits=input_bits,
                     pinned=fx.pinned_units(snapped.metadata, stages))
    return snapped, stages, fixed


def _twin_and_chip(spec, x):
    snapped, stages, fixed = _deployed(spec, x)
    assert bool((fixed.encoding.offset != 0).all())
    return snapped, emulate_float(stages, x, spec.timesteps), emulate_fixed(fixed, x)[0]


def test_an_input_offset_rides_on_the_bias_exactly_in_a_dense_first_layer(make_mlp_spec):
    spec = make_mlp_spec(timesteps=2, sizes=(12, 30, 20, 5))
    _, twin, chip = _twin_and_chip(spec, _offset_lattice(spec))
    for i in twin.spikes:
        assert torch.equal(twin.spikes[i], chip.spikes[i]), f"layers[{i}]"


def test_an_input_offset_is_exact_away_from_a_padded_border(make_conv_spec):
    """A convolution has one bias per channel: the neurons whose receptive field lies inside
    the image decide as on chip, those next to the padding may not. The control: the bias on
    the grid, without the offset's current, flips neurons inside too."""
    spec = _no_leak(make_conv_spec(timesteps=2))
    x = _offset_lattice(spec)
    snapped, twin, chip = _twin_and_chip(spec, x)
    inside = (slice(None), slice(None), slice(None), slice(1, -1), slice(1, -1))
    assert torch.equal(twin.spikes[0][inside], chip.spikes[0][inside])
    assert bool((twin.spikes[0] != chip.spikes[0]).sum() < 0.01 * twin.spikes[0].numel())
    unit = snapped.metadata["fixed_point"]["layers"][0]["unit"]
    first = snapped.layers[0]
    on_grid = dataclasses.replace(snapped, layers=[
        dataclasses.replace(first, bias=torch.round(first.bias / unit) * unit),
        *snapped.layers[1:]])
    control = emulate_float(to_stages(on_grid), x, 2)
    assert not torch.equal(control.spikes[0][inside], chip.spikes[0][inside])


def test_with_too_few_input_bits_the_twin_decides_as_the_chip_on_the_chips_input(
        make_mlp_spec):
    """17 input levels in 4 bits (15 payloads) is no exact encoding: the chip receives the
    input rounded onto a coarser lattice. ``represented`` is that input as real values; on it
    the twin decides as the chip, on the raw input it does not (the control)."""
    spec = make_mlp_spec(timesteps=2, sizes=(12, 30, 20, 5))
    x = _offset_lattice(spec)
    _, stages, fixed = _deployed(spec, x, input_bits=4)
    assert not fixed.encoding.exact
    chip, _ = emulate_fixed(fixed, x)
    seen = fixed.encoding.represented(x)
    assert torch.equal(fixed.encoding.encode(seen), fixed.encoding.encode(x))
    on_chip_input = emulate_float(stages, seen, 2)
    for i in chip.spikes:
        assert torch.equal(on_chip_input.spikes[i], chip.spikes[i]), f"layers[{i}]"
    raw = emulate_float(stages, x, 2)
    assert not torch.equal(raw.spikes[0], chip.spikes[0])


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
    assert threshold == (float(fixed.stages[0].vth.min()) + TIE_BREAK) * fixed.stages[0].unit


def _resnet(style, timesteps, amplitudes=None):
    from leanspike.zoo.residual import sew_resnet

    spec = sew_resnet(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
                      timesteps=timesteps, style=style, threshold=0.5)
    if amplitudes is None:
        return spec
    # every LIF its own amplitude: the copies of a weight after a SEW sum then round apart
    lifs = [i for i, layer in enumerate(spec.layers)
            if isinstance(getattr(layer, "neuron", None), S.LIF)]
    return dataclasses.replace(spec, layers=[
        dataclasses.replace(layer, neuron=dataclasses.replace(
            layer.neuron, amplitude=amplitudes[lifs.index(i) % len(amplitudes)]))
        if i in lifs else layer for i, layer in enumerate(spec.layers)])


def _all_integers(net):
    return [(fs.weight, *fs.extra_weights, fs.weight_exp, fs.vth, fs.bias_mant, fs.v_init, fs.dv)
            for fs in net.stages]


def _digit_like(spec, n=256):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 17, (n, *spec.input_shape), generator=g).to(torch.float32) / 16


@pytest.mark.parametrize("timesteps", [1, 2])
@pytest.mark.parametrize("style", ["sew", "current"])
def test_a_residual_graph_snaps_to_the_network_the_chip_runs(style, timesteps):
    from leanspike.loihi.fixed_point import pinned_units

    spec = _resnet(style, timesteps, amplitudes=(1.0, 0.8, 1.3))
    x = _digit_like(spec)
    snapped, fixed = snap_to_fixed_point(spec, x)
    stages = to_stages(snapped)
    assert any(st.extra_synapses for st in stages) and any(st.relay for st in stages)
    twin = emulate_float(stages, x, timesteps)
    chip, _ = emulate_fixed(fixed, x)
    for i in chip.spikes:
        assert float(chip.spikes[i].mean()) > 0.01, i  # every population is active
        assert torch.equal(twin.spikes[i], chip.spikes[i]), f"layers[{i}]"
    torch.testing.assert_close(twin.output, chip.output, atol=1e-5, rtol=1e-5)
    # the twin's integers are the chip's: quantised again (at its recorded units) and snapped
    # again, every group, threshold and bias is the same integer
    again = quantize(stages, x, timesteps=timesteps,
                     pinned=pinned_units(snapped.metadata, stages))
    assert _same(_all_integers(again), _all_integers(fixed))
    twice, fixed_twice = snap_to_fixed_point(snapped, x)
    assert _same(_all_integers(fixed_twice), _all_integers(fixed))
    for (_, a), (_, b) in zip(snapped.weighted_layers(), twice.weighted_layers()):
        assert torch.equal(a.weight, b.weight)


def test_copies_of_a_weight_after_a_sew_sum_land_on_the_grid_apart():
    spec = _resnet("sew", 2, amplitudes=(1.0, 0.8, 1.3))
    snapped, _ = snap_to_fixed_point(spec, _digit_like(spec))
    copies = [layer for layer in snapped.layers if layer.name in ("fc.train0", "fc.train1")]
    assert len(copies) == 2 and not torch.equal(copies[0].weight, copies[1].weight)
    original = next(layer for layer in spec.layers if layer.name == "fc")
    for copy in copies:  # each within half a grid step of the weights it copies
        assert float((copy.weight - original.weight).abs().max()) < 0.02 * float(
            original.weight.abs().max())


def test_the_groups_of_a_population_share_one_bias_rounded_once():
    g = torch.Generator().manual_seed(2)
    spec = S.NetworkSpec((6,), [
        S.Linear(torch.randn(8, 6, generator=g), neuron=S.LIF(threshold=0.7)),
        S.Linear(torch.randn(8, 8, generator=g), torch.randn(8, generator=g) * 0.3),
        S.Linear(torch.randn(8, 8, generator=g), torch.randn(8, generator=g) * 0.3,
                 inputs=(0,)),
        S.Add(neuron=S.LIF(threshold=0.9), inputs=(1, 2)),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.Integrator())], 2)
    snapped, fixed = snap_to_fixed_point(spec, torch.rand(64, 6, generator=g))
    assert snapped.layers[2].bias is None
    add = next(fs for fs in fixed.stages if fs.stage.layer_index == 3)
    total = (spec.layers[1].bias + spec.layers[2].bias).to(torch.float64)
    assert torch.equal(add.bias_mant, torch.round(total / add.unit).to(torch.int64))
    torch.testing.assert_close(snapped.layers[1].bias.to(torch.float64),
                               add.bias_mant.to(torch.float64) * add.unit)


def test_weight_grids_of_a_graph_share_their_populations_unit_as_snapping_does():
    from leanspike.errors import SpecError
    from leanspike.loihi.explicit_groups import explicit_groups
    from leanspike.loihi.snap import weight_grids

    spec = _resnet("current", 2, amplitudes=(1.0, 0.8, 1.3))
    x = _digit_like(spec)
    with pytest.raises(SpecError, match="explicit_groups first"):
        weight_grids(spec, x)
    explicit = explicit_groups(spec)
    grids = weight_grids(explicit, x)
    snapped, _ = snap_to_fixed_point(explicit, x)
    peaks: dict[int, torch.Tensor] = {}
    for i, layer in explicit.weighted_layers():
        p = grids[i].population
        peaks[p] = torch.maximum(peaks.get(p, torch.tensor(0.0, dtype=torch.float64)),
                                 grids[i].peak(layer.weight))
    shared = [p for p in peaks if sum(g.population == p for g in grids.values()) > 1]
    assert shared  # the blocks' output populations take two groups each
    for i, layer in explicit.weighted_layers():
        on_grid = grids[i].on_grid(layer.weight, peaks[grids[i].population])
        assert torch.equal(on_grid, snapped.layers[i].weight), i
