"""The spec as a graph: nodes with inputs, Add in both residual styles, validation through the
graph, format version 7 on disk (chains written as before), and the reference simulator."""

import json

import pytest
import torch
import torch.nn.functional as F

from leanspike import spec as S
from leanspike.errors import SpecError, SpecFileError
from leanspike.reference import simulate


def _conv(cin, cout, k=3, neuron="lif", **node):
    torch.manual_seed(cin * 7 + cout)
    n = S.LIF(threshold=0.6, leak=0.9) if neuron == "lif" else None
    return S.Conv2d(torch.randn(cout, cin, k, k) * 0.4, torch.randn(cout) * 0.1, neuron=n,
                    padding=(k // 2, k // 2), **node)


def residual_spec(style: str) -> S.NetworkSpec:
    """stem -> block (conv a, conv b, shortcut = the stem's spikes) -> linear readout.

    ``"current"``: the shortcut adds to conv b's current in the block's output population;
    ``"sew"``: conv b spikes and the Add sums the two spike trains."""
    layers = [_conv(1, 4, name="stem"), _conv(4, 4, name="a")]
    if style == "current":
        layers += [_conv(4, 4, neuron=None, name="b"),
                   S.Add(neuron=S.LIF(threshold=0.8, leak=0.95), inputs=(2, 0), name="add")]
    else:
        layers += [_conv(4, 4, name="b"), S.Add(inputs=(2, 0), name="add")]
    layers += [S.AvgPool2d((2, 2), (2, 2)), S.Flatten(),
               S.Linear(torch.randn(3, 64) * 0.2, torch.zeros(3), neuron=S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps=3).validate()


def by_hand(spec: S.NetworkSpec, x: torch.Tensor, style: str) -> torch.Tensor:
    """The same network written out step by step, independently of ``simulate``."""
    stem, a, b, add, _, _, fc = spec.layers
    u = {k: 0.0 for k in ("stem", "a", "b", "add", "fc")}

    def lif(key, current, n):
        v = n.leak * u[key] + current
        spk = (v > n.threshold).float()
        u[key] = v - n.threshold * spk
        return spk

    for _ in range(spec.timesteps):
        s0 = lif("stem", F.conv2d(x, stem.weight, stem.bias, padding=1), stem.neuron)
        s1 = lif("a", F.conv2d(s0, a.weight, a.bias, padding=1), a.neuron)
        ib = F.conv2d(s1, b.weight, b.bias, padding=1)
        if style == "current":
            out = lif("add", ib + s0, add.neuron)
        else:
            out = lif("b", ib, b.neuron) + s0
        u["fc"] = u["fc"] + F.linear(F.avg_pool2d(out, 2).flatten(1), fc.weight, fc.bias)
    return u["fc"]


@pytest.mark.parametrize("style", ["current", "sew"])
def test_the_reference_runs_both_residual_styles_as_written_out_by_hand(style):
    spec = residual_spec(style)
    x = torch.rand(5, 1, 8, 8) * 2
    result = simulate(spec, x)
    torch.testing.assert_close(result.output, by_hand(spec, x, style), rtol=0, atol=1e-5)
    assert spec.is_graph and spec.inputs_of(3) == (2, 0) and spec.inputs_of(4) == (3,)
    spiking = [0, 1, 3] if style == "current" else [0, 1, 2]
    assert spec.spiking_layers() == spiking and sorted(result.spikes) == spiking
    assert result.spikes[0].sum() > 0  # the shortcut carries spikes, so the test means something
    assert spec.consumers()[0] == [1, 3]


def test_a_sew_sum_takes_values_above_one_spike():
    spec = residual_spec("sew")
    x = torch.rand(20, 1, 8, 8) * 3
    both = simulate(spec, x, stop_after=3, timesteps=1).output
    assert both.max() == 2.0 and set(both.unique().tolist()) <= {0.0, 1.0, 2.0}


def test_a_chain_is_not_a_graph_and_writes_no_graph_fields(tmp_path):
    chain = S.NetworkSpec((1, 8, 8), [_conv(1, 4), S.Flatten(),
                                      S.Linear(torch.randn(3, 256), neuron=S.Integrator())], 2)
    assert not chain.validate().is_graph
    chain.save(tmp_path / "c")
    doc = json.loads((tmp_path / "c" / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 1
    assert all("inputs" not in e and "name" not in e for e in doc["layers"])


@pytest.mark.parametrize("style", ["current", "sew"])
def test_a_graph_round_trips_bit_for_bit_as_version_7(tmp_path, style):
    spec = residual_spec(style)
    spec.save(tmp_path / "g")
    doc = json.loads((tmp_path / "g" / S.SPEC_FILE).read_text())
    assert doc["format_version"] == S.GRAPH_SINCE == 7
    assert doc["layers"][3]["inputs"] == [2, 0] and doc["layers"][3]["name"] == "add"
    back = S.NetworkSpec.load(tmp_path / "g")
    assert back.identical(spec) and back.layers[3].inputs == (2, 0)
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(simulate(back, x).output, simulate(spec, x).output)


def _broken(change):
    spec = residual_spec("current")
    change(spec)
    return spec


@pytest.mark.parametrize("change, message", [
    (lambda s: setattr(s.layers[3], "inputs", (2, 5)),
     r"layers\[3\] \(Add 'add'\)\.inputs: input 5 is not an earlier layer.*no cycle"),
    (lambda s: setattr(s.layers[3], "inputs", (2,)),
     r"layers\[3\] \(Add 'add'\)\.inputs: an Add sums two or more inputs"),
    (lambda s: setattr(s.layers[1], "inputs", (0, -1)),
     r"layers\[1\] \(Conv2d 'a'\)\.inputs: a Conv2d takes one input.*with an Add"),
    (lambda s: setattr(s.layers[1], "inputs", (-2,)), r"input -2 is not a layer index"),
    (lambda s: setattr(s.layers[3], "inputs", (2, -1)),
     r"layers\[3\] \(Add 'add'\): its inputs differ in shape: layers\[2\] \(Conv2d 'b'\) "
     r"gives \(4, 8, 8\), the network input gives \(1, 8, 8\)"),
    (lambda s: setattr(s.layers[3], "inputs", (1, 0)),
     r"layers\[2\] \(Conv2d 'b'\): feeds no other layer; a spec has one output"),
    (lambda s: setattr(s.layers[3], "neuron", None),
     r"layers\[3\] \(Add 'add'\): sums the current of layers\[2\] \(Conv2d 'b'\) but carries "
     r"no neuron"),
    (lambda s: setattr(s.layers[4], "inputs", (2,)),
     r"layers\[2\] \(Conv2d 'b'\)\.neuron: a weighted layer without a neuron gives a current"),
    (lambda s: setattr(s.layers[1], "name", "stem"), r"node names must be unique, \['stem'\]"),
    (lambda s: setattr(s.layers[4], "neuron", S.LIF()), r"only Linear, convolution and Add"),
])
def test_graph_errors_name_the_node_and_what_is_wrong(change, message):
    with pytest.raises(SpecError, match=message):
        _broken(change).validate()


def test_an_add_as_the_output_layer_is_a_readout():
    torch.manual_seed(0)
    layers = [S.Linear(torch.randn(5, 4), neuron=S.LIF()),
              S.Linear(torch.randn(3, 5)), S.Linear(torch.randn(3, 4), inputs=(-1,)),
              S.Add(inputs=(1, 2), neuron=S.Integrator())]
    spec = S.NetworkSpec((4,), layers, 2).validate()
    x = torch.randn(6, 4)
    s0 = (F.linear(x, layers[0].weight) > 1).float()
    u1 = F.linear(s0, layers[1].weight) + F.linear(x, layers[2].weight)
    s0b = ((F.linear(x, layers[0].weight) - s0) + F.linear(x, layers[0].weight) > 1).float()
    u2 = u1 + F.linear(s0b, layers[1].weight) + F.linear(x, layers[2].weight)
    torch.testing.assert_close(simulate(spec, x).output, u2)


def test_older_documents_cannot_smuggle_graph_fields(tmp_path):
    spec = residual_spec("sew")
    spec.save(tmp_path / "g")
    path = tmp_path / "g" / S.SPEC_FILE
    doc = json.loads(path.read_text())
    doc["format_version"] = 6
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecFileError,
                       match=r"layers\[0\] \(Conv2d\)\.name: graph fields exist from "
                             r"format_version 7"):
        S.NetworkSpec.load(tmp_path / "g")
    doc["format_version"], doc["layers"][3]["inputs"] = 7, "2,0"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecFileError, match=r"layers\[3\] \(Add\)\.inputs: expected a list"):
        S.NetworkSpec.load(tmp_path / "g")
