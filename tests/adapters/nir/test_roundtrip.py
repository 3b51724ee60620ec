"""spec -> NIR -> spec: bit for bit through leanspike's metadata, in behaviour through NIR's
fields alone, and refusals of what NIR cannot say unless exported leniently."""

import warnings

import nir
import numpy as np
import pytest
import torch

from leanspike.adapters.nir import (
    NIRApproximationWarning,
    from_nir,
    read_graph,
    read_nir,
    to_nir,
    write_nir,
)
from leanspike.adapters.nir.ingest import chain
from leanspike.errors import ConfigError, SpecError
from leanspike.reference import simulate


def _inputs(spec, n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *spec.input_shape, generator=g) * 2.0


def _same_behaviour(a, b, x):
    ra, rb = simulate(a, x), simulate(b, x)
    assert ra.spikes.keys() == rb.spikes.keys()
    for i in ra.spikes:
        assert torch.equal(ra.spikes[i], rb.spikes[i]), f"layer {i}"
        assert ra.spikes[i].any() and not ra.spikes[i].all(), f"layer {i} says nothing"
    return ra, rb


def test_every_mapping_round_trips_bit_for_bit_through_a_file(nir_spec, tmp_path):
    spec = nir_spec()
    path = write_nir(spec, tmp_path / "net.nir")
    graph = nir.read(path)  # NIR's own reader, with its type checking
    assert graph.check_types()
    kinds = [type(n).__name__ for _, n in chain(graph)]  # HDF5 sorts the nodes by name
    assert kinds == ["Input", "Conv2d", "LIF", "AvgPool2d", "Conv2d", "LIF", "Flatten", "Affine",
                     "IF", "Scale", "Linear", "CubaLIF", "Affine", "LI", "Output"]
    assert float(graph.metadata["dt"]) == 1e-4
    back = read_nir(path)
    assert back.identical(spec)
    ra, rb = _same_behaviour(spec, back, _inputs(spec))
    assert torch.equal(ra.output, rb.output)


def test_nir_fields_alone_give_the_same_dynamics(nir_spec):
    """Without leanspike's metadata (what another tool reads) the spec's dynamics still come
    back: leak from tau at the declared dt, unit gain, amplitude from the Scale node."""
    spec = nir_spec()
    graph = to_nir(spec, dt=1e-3)
    for node in graph.nodes.values():
        node.metadata = {}
    graph.metadata = {"dt": 1e-3}
    back = from_nir(graph, timesteps=spec.timesteps)
    assert back.layers[4].neuron.amplitude == 0.5
    assert back.layers[5].neuron.current_leak == pytest.approx(0.5, abs=1e-12)
    ra, rb = _same_behaviour(spec, back, _inputs(spec))
    torch.testing.assert_close(ra.output, rb.output, rtol=1e-5, atol=1e-5)


def test_the_step_is_inferred_from_unit_gains_when_not_declared(nir_spec):
    spec = nir_spec()
    graph = to_nir(spec, dt=0.25)
    graph.metadata = {}
    assert from_nir(graph).layers[-1].neuron.leak == pytest.approx(0.9, abs=1e-12)
    graph.nodes["layer4_neuron"].r = graph.nodes["layer4_neuron"].r * 3  # no common step now
    with pytest.raises(ConfigError, match="declares no dt.*pass dt"):
        from_nir(graph)


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_strict_export_refuses_resets_nir_cannot_say_naming_the_layer(nir_spec, reset):
    with pytest.raises(SpecError, match=rf"layers\[0\] \(Conv2d\)\.neuron\.reset: reset "
                                        rf"'{reset}'.*strict=False"):
        to_nir(nir_spec(reset=reset))


def test_strict_export_refuses_v_init_and_max_pooling(nir_spec):
    with pytest.raises(SpecError, match=r"layers\[0\] \(Conv2d\)\.neuron\.v_init"):
        to_nir(nir_spec(v_init=0.25))
    with pytest.raises(SpecError, match=r"layers\[1\] \(MaxPool2d\): max pooling"):
        to_nir(nir_spec(maxpool=True))


def test_lenient_export_warns_what_changes_and_leanspike_reads_it_back_exactly(nir_spec,
                                                                              tmp_path):
    spec = nir_spec(reset="subtract", v_init=0.25, maxpool=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = write_nir(spec, tmp_path / "lenient.nir", strict=False)
    notes = [str(w.message) for w in caught if issubclass(w.category, NIRApproximationWarning)]
    assert any("layers[0] (Conv2d).neuron.reset" in n and "v_reset = 0" in n for n in notes)
    assert any("v_init" in n and "a start from 0" in n for n in notes)
    assert any("MaxPool2d" in n and "SumPool2d" in n for n in notes)
    graph = read_graph(path)
    assert isinstance(graph.nodes["layer1"], nir.SumPool2d)
    assert np.all(graph.nodes["layer0_neuron"].v_reset == 0)
    back = read_nir(path)
    assert back.identical(spec)
    _same_behaviour(spec, back, _inputs(spec))
    # what other tools see: reset to zero, from zero, a sum pool
    for node in graph.nodes.values():
        node.metadata = {}
    other = from_nir(graph, dt=1e-4, timesteps=spec.timesteps)
    assert other.layers[0].neuron.reset == "zero" and other.layers[0].neuron.v_init == 0.0
    assert type(other.layers[1]).__name__ == "AvgPool2d"


def test_refused_always(nir_spec):
    spec = nir_spec()
    spec.layers[0].neuron.leak = torch.tensor([1.0, 0.5, 0.5, 0.5]).view(4, 1, 1)
    with pytest.raises(SpecError, match=r"layers\[0\].*some neurons have leak 1"):
        to_nir(spec)
    spec = nir_spec()
    spec.layers[5].neuron.leak = 1.0
    with pytest.raises(SpecError, match=r"layers\[5\].*current-based.*without membrane decay"):
        to_nir(spec)


def test_a_1d_network_round_trips_and_1d_pooling_is_named(make_signal_spec, tmp_path):
    """Conv1d is NIR's Conv1d, bit for bit and by spikes; NIR has no 1-D pooling node."""
    from leanspike import spec as S

    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((2, 16), [
        S.Conv1d(torch.randn(4, 2, 3, generator=g), torch.randn(4, generator=g) * 0.1, None,
                 S.LIF(threshold=0.5, leak=0.875, reset="zero"), stride=(2,), padding=(1,)),
        S.Flatten(),
        S.Linear(torch.randn(3, 32, generator=g), None, None, S.Integrator())], timesteps=3)
    path = write_nir(spec, tmp_path / "signal.nir")
    kinds = [type(n).__name__ for _, n in chain(nir.read(path))]
    assert kinds == ["Input", "Conv1d", "LIF", "Flatten", "Linear", "I", "Output"]
    back = read_nir(path)
    assert back.identical(spec)
    _same_behaviour(spec, back, _inputs(spec))
    with pytest.raises(SpecError, match=r"layers\[1\] \(AvgPool1d\): nir .* no 1-D pooling"):
        to_nir(make_signal_spec(reset="zero"), strict=False)


def test_a_graph_spec_is_exported_as_a_nir_graph():
    """A current sum with a spike shortcut: the Add is the neuron node both edges go into (the
    residual styles on images: test_graph.py)."""
    from leanspike import spec as S

    torch.manual_seed(0)
    spec = S.NetworkSpec((4,), [S.Linear(torch.randn(4, 4), neuron=S.LIF(reset="zero")),
                                S.Linear(torch.randn(4, 4)),
                                S.Add(inputs=(1, 0), neuron=S.LIF(reset="zero")),
                                S.Linear(torch.randn(3, 4), neuron=S.Integrator())], 2)
    graph = to_nir(spec)
    assert sorted(a for a, b in graph.edges if b == "layer2") == ["layer0_neuron", "layer1"]
    back = from_nir(graph)
    assert back.identical(spec)
    x = _inputs(spec)
    assert torch.equal(simulate(spec, x).output, simulate(back, x).output)


def test_names_and_explicit_inputs_of_a_chain_come_back(nir_spec, tmp_path):
    spec = nir_spec()
    spec.layers[0].name, spec.layers[3].name = "conv", "flatten"
    spec.layers[2].inputs = (1,)
    assert not spec.is_graph
    back = read_nir(write_nir(spec, tmp_path / "named.nir"))
    assert back.identical(spec)
