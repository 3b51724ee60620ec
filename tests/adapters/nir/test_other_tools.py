"""Graphs other tools write, read by leanspike; leanspike's graphs read by snnTorch; and the
errors for what leanspike cannot take."""

import warnings

import nir
import numpy as np
import pytest
import torch

from leanspike import spec as S
from leanspike.adapters.nir import from_nir, read_nir, write_nir
from leanspike.errors import ConfigError, SpecError, SpecFileError
from leanspike.reference import simulate

from .conftest import export_snntorch, snntorch_mlp, snntorch_model


def _adopted(model, input_shape, timesteps):
    from leanspike.adapters.snntorch import adopt, to_spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # adopt's note on snnTorch's reset_delay
        return to_spec(adopt(model, input_shape, timesteps, readout="spikes"))


def _inputs(shape, n=8, seed=3):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2.0


@pytest.mark.parametrize("make, shape", [(snntorch_model, (1, 8, 8)), (snntorch_mlp, (64,))])
def test_snntorch_export_reads_as_leanspikes_own_adoption(make, shape, tmp_path):
    """reset 'zero' is what NIR carries: every spike equal to adopt()'s spec of the model."""
    model = make(reset="zero")
    path = tmp_path / "snntorch.nir"
    nir.write(path, export_snntorch(model, shape))
    got = read_nir(path, timesteps=4)
    want = _adopted(model, shape, 4)
    assert [type(la).__name__ for la in got.layers] == [type(la).__name__ for la in want.layers]
    x = _inputs(shape)
    a, b = simulate(got, x), simulate(want, x)
    assert a.spikes.keys() == b.spikes.keys()
    for i in a.spikes:
        assert torch.equal(a.spikes[i], b.spikes[i]), f"layer {i}"
    assert a.spikes[max(a.spikes)].any()
    assert torch.equal(a.output, b.output)


def test_snntorch_export_writes_a_subtractive_reset_as_reset_to_zero():
    """snnTorch's default reset_mechanism 'subtract' is exported as v_reset = 0: the graph
    says reset to zero, and leanspike reads what it says (the documented difference)."""
    graph = export_snntorch(snntorch_mlp(reset="subtract"), (64,))
    spec = from_nir(graph)
    assert {la.neuron.reset for la in spec.layers} == {"zero"}
    assert spec.timesteps == 1


def test_a_norse_style_graph_reads_at_the_step_given():
    """Norse writes r = 1 and tau in seconds, no dt: the gain dt/tau goes into the weights."""
    g = torch.Generator().manual_seed(0)
    w1, b1 = torch.randn(8, 5, generator=g).numpy(), torch.randn(8, generator=g).numpy()
    w2, b2 = torch.randn(3, 8, generator=g).numpy(), np.zeros(3, dtype=np.float32)
    ones = lambda n: np.ones(n, dtype=np.float32)  # noqa: E731
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([5])}),
        "linear": nir.Affine(weight=w1, bias=b1),
        "lif": nir.LIF(tau=ones(8) * 0.01, r=ones(8), v_leak=ones(8) * 0.2,
                       v_threshold=ones(8) * 0.05, v_reset=np.zeros(8, dtype=np.float32)),
        "readout": nir.Affine(weight=w2, bias=b2),
        "li": nir.LI(tau=ones(3) * 0.02, r=ones(3), v_leak=np.zeros(3, dtype=np.float32)),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "linear"), ("lif", "readout"), ("linear", "lif"), ("readout", "li"),
              ("li", "output")])
    with pytest.raises(ConfigError, match="declares no dt"):
        from_nir(graph)  # the two taus imply no common unit-gain step
    spec = from_nir(graph, dt=1e-3, timesteps=5)
    hidden, out = spec.layers
    assert hidden.neuron.leak == pytest.approx(0.9) and out.neuron.leak == pytest.approx(0.95)
    # Euler by hand: v = 0.9 v + 0.1 (W x + b) + 0.1 * 0.2, fires above 0.05, resets to 0
    x = _inputs((5,), n=4)
    v, u, spikes = torch.zeros(4, 8), torch.zeros(4, 3), []
    for _ in range(5):
        v = 0.9 * v + 0.1 * (x @ torch.from_numpy(w1).T + torch.from_numpy(b1)) + 0.02
        s = (v > 0.05).float()
        v = v * (1 - s)
        spikes.append(s)
        u = 0.95 * u + 0.05 * (s @ torch.from_numpy(w2).T)
    result = simulate(spec, x)
    assert torch.equal(result.spikes[0], torch.stack(spikes))
    torch.testing.assert_close(result.output, u, rtol=1e-5, atol=1e-6)


def test_a_sinabs_style_conv_graph():
    """Sinabs: Conv2d + IF (r = 1, dt 1), SumPool2d, Flatten; the sum pool is an average pool
    whose window size goes into the next layer's weights."""
    g = torch.Generator().manual_seed(1)
    conv_w = torch.randn(2, 1, 3, 3, generator=g).numpy()
    lin_w = torch.randn(4, 18, generator=g).numpy()
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([1, 6, 6])}),
        nir.Conv2d(input_shape=(6, 6), weight=conv_w, stride=1, padding=1, dilation=1, groups=1,
                   bias=np.zeros(2, dtype=np.float32)),
        nir.IF(r=np.ones((2, 6, 6)), v_threshold=np.ones((2, 6, 6))),
        nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                      padding=np.array([0, 0])),
        nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
        nir.Affine(weight=lin_w, bias=np.zeros(4, dtype=np.float32)),
        nir.IF(r=np.ones(4), v_threshold=np.ones(4)),
        nir.Output(output_type={"output": np.array([4])}),
    )
    spec = from_nir(graph, timesteps=3)
    assert [type(la).__name__ for la in spec.layers] == ["Conv2d", "AvgPool2d", "Flatten",
                                                         "Linear"]
    assert torch.equal(spec.layers[3].weight, torch.from_numpy(lin_w) * 4)  # exact: * 2^2
    x = _inputs((1, 6, 6), n=3)
    first = simulate(spec, x).spikes[0]
    summed = torch.nn.functional.avg_pool2d(first.flatten(0, 1), 2).mul(4).flatten(1)
    assert torch.equal(summed, torch.nn.functional.lp_pool2d(first.flatten(0, 1), 1, 2)
                       .flatten(1))


def test_snntorch_import_from_nir_reads_a_leanspike_export_the_same_at_t1(tmp_path):
    """T = 1 from a zero membrane: leaks and resets do not act, so snnTorch's importer gives
    the same first-layer spikes and output spikes as the spec (reset 'zero', unit gain,
    thresholds, Affine/Linear). Its IF import (beta 0.9, r == 1 asserted) is snnTorch's own
    difference: the spec here uses LIF neurons only."""
    from snntorch.import_nir import import_from_nir

    g = torch.Generator().manual_seed(2)
    spec = S.NetworkSpec((64,), [
        S.Linear(torch.randn(16, 64, generator=g) * 0.3, torch.randn(16, generator=g) * 0.1,
                 None, S.LIF(threshold=0.5, leak=0.9, reset="zero")),
        S.Linear(torch.randn(10, 16, generator=g), torch.randn(10, generator=g) * 0.1, None,
                 S.LIF(threshold=0.75, leak=0.8, reset="zero")),
    ], timesteps=1)
    path = write_nir(spec, tmp_path / "for_snntorch.nir")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = import_from_nir(nir.read(path))
    x = _inputs((64,), n=16)
    out, _state = model(x)
    want = simulate(spec, x)
    assert torch.equal(out, want.output)
    assert want.output.any()


def test_a_corrupt_file_names_the_file(tmp_path, nir_spec):
    path = write_nir(nir_spec(), tmp_path / "net.nir")
    data = path.read_bytes()
    bad = tmp_path / "bad.nir"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(SpecFileError, match="bad.nir: not a readable NIR file"):
        read_nir(bad)
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(SpecFileError, match="bad.nir"):
        read_nir(bad)
    with pytest.raises(SpecFileError, match="no such NIR file"):
        read_nir(tmp_path / "missing.nir")


def test_unsupported_nodes_and_shapes_are_named():
    lin = nir.Affine(weight=np.ones((3, 4), np.float32), bias=np.zeros(3, np.float32))
    graph = nir.NIRGraph.from_list(lin, nir.Delay(delay=np.ones(3)), type_check=False)
    graph.nodes["input"] = nir.Input(input_type={"input": np.array([4])})
    with pytest.raises(SpecError, match=r"NIR node 'delay' \(Delay\): no leanspike equivalent"):
        from_nir(graph, dt=1.0)
    graph = nir.NIRGraph.from_list(lin, nir.LIF(tau=np.ones(3), r=np.ones(3),
                                                v_leak=np.zeros(3), v_threshold=np.ones(3),
                                                v_reset=np.full(3, -1.0)))
    with pytest.raises(SpecError, match=r"'lif' \(LIF\)\.v_reset: nonzero"):
        from_nir(graph, dt=0.5)
    branch = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}), "a": lin,
        "b": nir.Affine(weight=np.ones((3, 4), np.float32), bias=np.zeros(3, np.float32)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")])
    with pytest.raises(SpecError, match="more than one edge.*branch"):
        from_nir(branch, dt=1.0)


def test_a_recurrent_snntorch_layer_is_refused_by_name():
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    model = torch.nn.Sequential(torch.nn.Linear(4, 3),
                                snn.RLeaky(beta=0.9, linear_features=3, init_hidden=True,
                                           output=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(model, torch.zeros(1, 4), ignore_dims=[0])
    with pytest.raises(SpecError, match=r"'1.lif' \(LIF\): on a cycle \(a recurrent "
                                        r"connection"):
        from_nir(graph, dt=1e-4)
    subgraph = nir.NIRGraph.from_list(nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)),
                                      graph, type_check=False)
    with pytest.raises(SpecError, match=r"'nirgraph' \(NIRGraph\): a subgraph"):
        from_nir(subgraph, dt=1e-4)


def test_not_a_graph():
    with pytest.raises(ConfigError, match="expected a nir.NIRGraph"):
        from_nir({"nodes": {}, "edges": []})
