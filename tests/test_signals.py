"""Inputs that are not images: flat vectors (F,) and 1-D signals (C, L), with Conv1d, AvgPool1d
and MaxPool1d layers (spec format 6). The reference computes them with torch's 1-D ops; the
hardware stages run them as their 2-D twins of height 1, which must be the same network."""

import json

import pytest
import torch
import torch.nn.functional as F

from leanspike import spec as S
from leanspike.errors import SpecError, SpecFileError
from leanspike.loihi import emulate_fixed, emulate_float, quantize, to_stages
from leanspike.loihi.stages import as_2d
from leanspike.reference import simulate


def _signals(spec, n=6, seed=1):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2


def test_shapes_chain_through_1d_layers(make_signal_spec):
    spec = make_signal_spec()
    assert spec.layer_shapes() == [(4, 24), (4, 12), (6, 5), (6, 3), (18,), (12,), (3,)]
    assert spec.spiking_layers() == [0, 2, 3, 5]


def test_a_1d_spec_is_format_6_and_round_trips_bit_for_bit(make_signal_spec, tmp_path):
    spec = make_signal_spec()
    path = spec.save(tmp_path / "s")
    doc = json.loads((path / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 6 and doc["layers"][0]["stride"] == [1]
    back = S.load_spec(path)
    assert back.identical(spec) and back.layers[2].stride == (2,)
    doc["format_version"] = 5
    (path / S.SPEC_FILE).write_text(json.dumps(doc))
    with pytest.raises(SpecFileError, match=r"layers\[0\] \(Conv1d\)\.type: Conv1d layers exist "
                                            r"from format_version 6"):
        S.load_spec(path)


def test_the_reference_is_torchs_1d_network(make_signal_spec):
    spec = make_signal_spec(timesteps=1)
    x = _signals(spec)
    c0, _, c1, _, _, l0, l1 = spec.layers
    u0 = F.conv1d(x, c0.weight, c0.bias, padding=2) + 0.875 * 0.25
    s0 = (u0 > c0.neuron.threshold).float()
    u1 = F.conv1d(F.avg_pool1d(s0, 2), c1.weight * c1.mask, None, stride=2)
    s1 = (u1 > 0.5).float() * 0.75
    u2 = F.linear(F.max_pool1d(s1, 3, 1).flatten(1), l0.weight, l0.bias)
    out = F.linear((u2 > 0.75).float(), l1.weight)
    ref = simulate(spec, x)
    assert torch.equal(ref.spikes[0][0], s0)
    torch.testing.assert_close(ref.output, out)


@pytest.mark.parametrize("timesteps", [1, 4])
def test_the_2d_twin_and_the_stages_are_the_same_network(make_signal_spec, timesteps):
    spec = make_signal_spec(timesteps=timesteps)
    x = _signals(spec)
    want = simulate(spec, x)
    twin = simulate(as_2d(spec), x.unsqueeze(2))
    stages = to_stages(spec)
    assert [st.kind for st in stages] == ["conv", "conv", "conv", "dense", "dense"]
    assert stages[0].input_shape == (2, 1, 24) and stages[0].layer_shape == (4, 24)
    got = emulate_float(stages, x, timesteps)
    for i, spikes in want.spikes.items():
        assert torch.equal(twin.spikes[i].squeeze(-2) if twin.spikes[i].dim() == 5
                           else twin.spikes[i], spikes), i
        assert torch.equal(got.spikes[i], spikes), i
        assert 0 < float(spikes.mean()) < 1, i
    torch.testing.assert_close(got.output, want.output, atol=1e-4, rtol=1e-5)


def test_fixed_point_takes_signals_per_channel(make_signal_spec):
    spec = make_signal_spec()
    x = torch.stack([torch.randint(0, 17, (6, 24)) / 16.0, torch.randint(-8, 9, (6, 24)) / 4.0],
                    dim=1)  # two channels, each on its own lattice
    net = quantize(to_stages(spec), x, timesteps=3)
    assert net.encoding.exact and net.encoding.step.tolist() == [1 / 16, 1 / 4]
    assert net.quantize_input(x).shape == x.shape
    result, raw = emulate_fixed(net, x)
    assert result.output.shape == (6, 3) and set(result.spikes) == {0, 2, 3, 5}


def test_a_flat_input_needs_no_flatten_and_may_have_one(tmp_path):
    g = torch.Generator().manual_seed(0)
    layers = [S.Linear(torch.randn(8, 13, generator=g), None, None, S.LIF(threshold=0.5)),
              S.Linear(torch.randn(3, 8, generator=g), None, None, S.Integrator())]
    plain = S.NetworkSpec((13,), layers, 2).validate()
    flattened = S.NetworkSpec((13,), [S.Flatten(), *layers], 2).validate()
    x = torch.randn(5, 13, generator=g)
    assert torch.equal(simulate(plain, x).output, simulate(flattened, x).output)
    for spec in (plain, flattened):
        got = emulate_float(to_stages(spec), x, 2)
        torch.testing.assert_close(got.output, simulate(spec, x).output, atol=1e-4, rtol=1e-5)
    assert json.loads((plain.save(tmp_path / "p") / S.SPEC_FILE).read_text())[
        "format_version"] == 1  # nothing new: what every release reads
    assert json.loads((flattened.save(tmp_path / "f") / S.SPEC_FILE).read_text())[
        "format_version"] == 6


@pytest.mark.parametrize("mutate, pattern", [
    (lambda s: setattr(s.layers[0], "stride", (1, 1)),
     r"layers\[0\] \(Conv1d\)\.stride: expected a tuple of 1 integer"),
    (lambda s: setattr(s, "input_shape", (2, 4, 24)), r"layers\[0\] \(Conv1d\): needs a \(C, L\)"),
    (lambda s: s.layers.insert(1, S.AvgPool2d()),
     r"layers\[1\] \(AvgPool2d\): needs a \(C, H, W\)"),
    (lambda s: setattr(s.layers[0], "weight", torch.randn(4, 2, 3, 3)),
     r"layers\[0\] \(Conv1d\)\.weight: expected 3 dimensions"),
])
def test_1d_mistakes_name_the_layer(make_signal_spec, mutate, pattern):
    spec = make_signal_spec()
    mutate(spec)
    with pytest.raises(SpecError, match=pattern):
        spec.validate()
