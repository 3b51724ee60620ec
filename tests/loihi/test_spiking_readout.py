"""A spiking readout (a LIF output layer, read by its spike count) folded into stages, emulated
in float and in Loihi integers, and snapped: every one returns what the reference returns,
sum_t amplitude * s[t], and the fixed point's raw output is the integer count."""

import dataclasses

import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, emulate_float, quantize, snap_to_fixed_point, to_stages
from leanspike.loihi.stages import count_output
from leanspike.reference import simulate

AMPLITUDE = 0.37  # not a power of two: k * amplitude rounds, as the reference's sum does


def _spiking_readout(spec, threshold=0.3, amplitude=AMPLITUDE, reset="subtract"):
    """The same network read by the spike count of a LIF output layer."""
    last = spec.layers[-1]
    spec.layers[-1] = dataclasses.replace(
        last, neuron=S.LIF(threshold=threshold, amplitude=amplitude, reset=reset))
    return spec.validate()


def _inputs(spec, n=32, seed=0):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2


def _specs(make_mlp_spec, make_maxpool_spec, timesteps):
    return {"mlp": _spiking_readout(make_mlp_spec(timesteps=timesteps, sizes=(12, 20, 5))),
            "maxpool": _spiking_readout(make_maxpool_spec(timesteps=timesteps))}


@pytest.mark.parametrize("timesteps", [1, 3, 6])
@pytest.mark.parametrize("which", ["mlp", "maxpool"])
def test_float_emulation_returns_the_references_counts_bit_for_bit(make_mlp_spec,
                                                                   make_maxpool_spec,
                                                                   timesteps, which):
    spec = _specs(make_mlp_spec, make_maxpool_spec, timesteps)[which]
    assert spec.spiking_readout
    x = _inputs(spec)
    want = simulate(spec, x)
    stages = to_stages(spec)
    assert stages[-1].spiking and stages[-1].amplitude == AMPLITUDE
    got = emulate_float(stages, x, timesteps)
    assert got.spikes.keys() == want.spikes.keys()
    for i in want.spikes:
        assert torch.equal(got.spikes[i], want.spikes[i]), f"layers[{i}]"
    assert torch.equal(got.output, want.output)
    last = len(spec.layers) - 1
    assert 0 < float(want.spikes[last].mean()) < 1  # the readout spikes, and not always
    assert torch.equal(got.output, count_output(want.spikes[last].sum(0), AMPLITUDE))


def test_counts_add_up_in_float32_as_the_reference_adds_them():
    counts = torch.arange(9)
    step = torch.ones(1) * AMPLITUDE
    running, want = torch.zeros(1), [torch.zeros(1)]
    for _ in range(8):
        running = running + step
        want.append(running)
    assert torch.equal(count_output(counts, AMPLITUDE), torch.cat(want))
    assert count_output(torch.zeros(2, 3, dtype=torch.int64), 0.5).shape == (2, 3)


@pytest.mark.parametrize("timesteps", [1, 3])
def test_fixed_point_raw_output_is_the_integer_spike_count(make_maxpool_spec, timesteps):
    spec = _spiking_readout(make_maxpool_spec(timesteps=timesteps))
    x = _inputs(spec)
    net = quantize(to_stages(spec), x, timesteps=timesteps)
    assert net.spiking_readout and net.output_scale == AMPLITUDE
    result, raw = emulate_fixed(net, x)
    last = len(spec.layers) - 1
    assert raw.dtype == torch.int64 and raw.shape == (len(x), 10)
    assert torch.equal(raw, result.spikes[last].sum(0).to(torch.int64))
    assert int(raw.min()) >= 0 and int(raw.max()) <= timesteps
    assert torch.equal(result.output, count_output(raw, AMPLITUDE))
    # the last stage is quantised as any spiking one: a threshold mantissa, no readout scaling
    assert net.stages[-1].vth is not None


def test_an_integrating_output_keeps_its_potential_and_scale(make_maxpool_spec):
    spec = make_maxpool_spec(timesteps=2)
    x = _inputs(spec)
    net = quantize(to_stages(spec), x, timesteps=2)
    assert not spec.spiking_readout and not net.spiking_readout
    assert net.output_scale == net.stages[-1].unit / 64
    result, raw = emulate_fixed(net, x)
    assert torch.equal(result.output,
                       (raw.to(torch.float64) * net.output_scale).to(torch.float32))
    assert 5 not in result.spikes  # the output layer does not spike


@pytest.mark.parametrize("timesteps", [1, 3])
def test_a_spiking_readout_snaps_to_the_network_the_chip_runs(make_mlp_spec, timesteps):
    """The snapped spec's float run makes the chip's decisions, readout included, and reads
    the same counts; snapping leaves the readout's amplitude alone (nothing folds it)."""
    spec = _spiking_readout(make_mlp_spec(timesteps=timesteps, sizes=(12, 20, 5)))
    for _, layer in spec.weighted_layers():
        layer.neuron.leak = 1.0
    snapped, fixed = snap_to_fixed_point(spec, input_range=2.0)
    assert snapped.spiking_readout and snapped.layers[-1].neuron.amplitude == AMPLITUDE
    again, fixed_again = snap_to_fixed_point(snapped, input_range=2.0)
    assert all(torch.equal(a.weight, b.weight) and torch.equal(a.vth, b.vth)
               for a, b in zip(fixed.stages, fixed_again.stages))
    g = torch.Generator().manual_seed(3)
    x = torch.randint(-127, 128, (256, 12), generator=g).to(torch.float64) * (2.0 / 127)
    twin = simulate(snapped, x)
    chip, raw = emulate_fixed(fixed, x)
    for i in twin.spikes:  # only exact ties (v == threshold in integers) may go either way
        assert float((twin.spikes[i] != chip.spikes[i]).float().mean()) < 0.002, f"layers[{i}]"
    same = (twin.output == chip.output).all(1).float().mean()
    assert float(same) >= 0.98
    assert torch.equal(chip.output, count_output(raw, AMPLITUDE))
