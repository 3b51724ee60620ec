"""Graph (residual) specs through NIR: both residual styles written as NIR graphs and read back
bit for bit, through files too; NIR's own fan-in sum as nirtorch runs it; foreign layouts of
the same sums; and the graphs a spec cannot take, refused by the node's name."""

import warnings

import nir
import numpy as np
import pytest
import torch

from leanspike import spec as S
from leanspike.adapters.nir import from_nir, read_graph, read_nir, to_nir, write_nir
from leanspike.errors import SpecError
from leanspike.reference import simulate
from leanspike.zoo.residual import sew_resnet

STYLES = ("sew", "current")


def _residual(style: str, reset: str = "zero") -> S.NetworkSpec:
    spec = sew_resnet(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
                      timesteps=2, style=style)
    for layer in spec.layers:
        if isinstance(getattr(layer, "neuron", None), S.LIF):
            layer.neuron.reset = reset
    return spec.validate()


def _inputs(spec, n=6, seed=1):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2.0


def _same_spikes(a, b, x, *, same_layout=True):
    """Every spike and the output bit for bit; where the layout changed (an Add more), the
    spiking layers are compared in order."""
    ra, rb = simulate(a, x), simulate(b, x)
    sa = [ra.spikes[i] for i in sorted(ra.spikes)]
    sb = [rb.spikes[i] for i in sorted(rb.spikes)]
    if same_layout:
        assert ra.spikes.keys() == rb.spikes.keys()
    assert len(sa) == len(sb)
    for k, (p, q) in enumerate(zip(sa, sb)):
        assert torch.equal(p, q), f"spiking layer {k}"
        assert p.any() and not p.all(), f"spiking layer {k} says nothing"
    assert torch.equal(ra.output, rb.output)
    return ra


@pytest.mark.parametrize("style", STYLES)
def test_a_residual_spec_round_trips_bit_for_bit_through_a_file(style, tmp_path):
    spec = _residual(style)
    path = write_nir(spec, tmp_path / f"{style}.nir")
    graph = read_graph(path)
    kinds = {k: type(n).__name__ for k, n in graph.nodes.items()}
    into = lambda k: sorted(a for a, b in graph.edges if b == k)  # noqa: E731
    if style == "sew":  # the Add is a Scale of 1: its two spike trains sum going into it
        assert kinds["layer3"] == kinds["layer7"] == "Scale"
        assert np.all(graph.nodes["layer3"].scale == 1)
        assert into("layer3") == ["layer0_neuron", "layer2_neuron"]
        assert into("layer7") == ["layer5_neuron", "layer6_neuron"]
        assert into("layer6") == ["layer3"]  # the 1x1 shortcut takes the sum
    else:  # the Add is the neuron node its currents and shortcut spikes sum into
        assert kinds["layer3"] == kinds["layer7"] == "IF"
        assert into("layer3") == ["layer0_neuron", "layer2"]  # spikes and a current
        assert into("layer7") == ["layer5", "layer6"]  # two currents
    back = read_nir(path)
    assert back.identical(spec)
    _same_spikes(spec, back, _inputs(spec))


@pytest.mark.parametrize("style", STYLES)
def test_subtractive_resets_are_refused_strictly_and_restored_leniently(style, tmp_path):
    spec = _residual(style, reset="subtract")
    with pytest.raises(SpecError, match=r"layers\[0\] \(Conv2d\)\.neuron\.reset"):
        to_nir(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = write_nir(spec, tmp_path / "lenient.nir", strict=False)
    back = read_nir(path)
    assert back.identical(spec)
    _same_spikes(spec, back, _inputs(spec))


@pytest.mark.parametrize("style", STYLES)
def test_nir_fields_alone_give_the_same_graph(style):
    """Without leanspike's metadata (what another tool reads): the same layout and spikes."""
    spec = _residual(style)
    graph = to_nir(spec)
    for node in graph.nodes.values():
        node.metadata = {}
    back = from_nir(graph, timesteps=spec.timesteps)
    assert [(type(a).__name__, spec.inputs_of(i)) for i, a in enumerate(spec.layers)] == \
        [(type(b).__name__, back.inputs_of(i)) for i, b in enumerate(back.layers)]
    _same_spikes(spec, back, _inputs(spec))


def test_a_sum_into_each_consumer_reads_as_the_same_sew_network():
    """Another tool may write SEW's ADD as edges from both spike trains into each consumer
    (NIR sums a node's inputs before it acts): each consumer then gets an Add of its own, and
    every spike and the output stay the same."""
    spec = _residual("sew")
    graph = to_nir(spec)
    edges = list(graph.edges)
    for add in ("layer3", "layer7"):
        sources = [a for a, b in edges if b == add]
        consumers = [b for a, b in edges if a == add]
        edges = [e for e in edges if add not in e]
        edges += [(a, c) for c in consumers for a in sources]
        del graph.nodes[add]
    graph.edges = edges
    back = from_nir(graph)
    adds = [i for i, layer in enumerate(back.layers) if isinstance(layer, S.Add)]
    assert len(adds) == 3 and all(back.layers[i].neuron is None for i in adds)
    _same_spikes(spec, back, _inputs(spec), same_layout=False)


def test_every_mapping_in_a_graph_round_trips(tmp_path):
    """Amplitudes on the shortcut spikes and on a summing population, a current-based one
    (CubaLIF: the shortcut enters its synaptic current too), per-neuron thresholds, a mask, a
    SEW sum of spikes of two amplitudes: bit for bit through the file, and the same spikes
    from NIR's fields alone."""
    g = torch.Generator().manual_seed(0)
    w = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    mask = (torch.rand(4, 4, 3, 3, generator=g) > 0.3).to(torch.float32)
    spec = S.NetworkSpec((1, 8, 8), [
        S.Conv2d(w(4, 1, 3, 3), w(4) * 0.1, None,
                 S.LIF(threshold=torch.rand(4, 8, 8, generator=g) + 0.5, leak=0.875,
                       reset="zero", amplitude=0.5), padding=(1, 1), name="stem"),
        S.Conv2d(w(4, 4, 3, 3) * mask, None, mask, None, padding=(1, 1)),
        S.Add(inputs=(1, 0), neuron=S.LIF(threshold=0.5, leak=0.9, current_leak=0.5,
                                          reset="zero", amplitude=2.0), name="block"),
        S.Add(inputs=(2, 0)),
        S.AvgPool2d((2, 2), (2, 2)),
        S.Flatten(),
        S.Linear(w(3, 64) * 0.3, w(3) * 0.1, None, S.Integrator(leak=0.9)),
    ], 3).validate()
    graph = to_nir(spec)
    assert type(graph.nodes["layer2"]).__name__ == "CubaLIF"
    assert ("layer0_amplitude", "layer2") in graph.edges  # amplitude * s, unit synapses
    back = read_nir(write_nir(spec, tmp_path / "net.nir"))
    assert back.identical(spec)
    x = _inputs(spec)
    _same_spikes(spec, back, x)
    for node in graph.nodes.values():
        node.metadata = {}
    other = from_nir(graph, timesteps=spec.timesteps)
    assert [la.inputs for la in other.layers] == [la.inputs for la in spec.layers]
    ra, rb = simulate(spec, x), simulate(other, x)
    for i in ra.spikes:
        assert torch.equal(ra.spikes[i], rb.spikes[i]), f"layer {i}"
    torch.testing.assert_close(ra.output, rb.output, rtol=1e-5, atol=1e-5)


def _nirtorch_map(dt: float):
    """NIR's equations under forward Euler at ``dt``, written here from NIR's definitions (IF:
    v += dt r I, spike above v_threshold, reset to v_reset; I: v += dt r I), so that only
    nirtorch's wiring and its sum of a node's inputs are tested."""

    class Integrate(torch.nn.Module):
        def __init__(self, node, spiking):
            super().__init__()
            self.gain = torch.tensor(dt * np.asarray(node.r, np.float64), dtype=torch.float32)
            self.spiking = spiking
            if spiking:
                self.th = torch.tensor(node.v_threshold, dtype=torch.float32)
                self.v_reset = torch.tensor(node.v_reset, dtype=torch.float32)

        def forward(self, x, state=None):
            v = torch.zeros_like(x) if state is None else state
            v = v + self.gain * x
            if not self.spiking:
                return v, v
            s = (v > self.th).to(x.dtype)
            return s, v * (1 - s) + self.v_reset * s

    class Scale(torch.nn.Module):
        def __init__(self, node):
            super().__init__()
            self.scale = torch.tensor(node.scale, dtype=torch.float32)

        def forward(self, x):
            return x * self.scale

    def affine(node):  # nirtorch 2.6's default Affine map leaves the bias at its random init
        lin = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0])
        lin.weight.data, lin.bias.data = torch.from_numpy(node.weight), torch.from_numpy(node.bias)
        return lin

    return {nir.IF: lambda n: Integrate(n, True), nir.I: lambda n: Integrate(n, False),
            nir.Scale: Scale, nir.Affine: affine,
            nir.Flatten: lambda n: torch.nn.Flatten(1)}  # nirtorch's keeps start_dim 0: batch


@pytest.mark.parametrize("style", STYLES)
def test_nirtorch_runs_the_exported_graph_spike_for_spike(style, tmp_path):
    import nirtorch

    spec = _residual(style)
    path = write_nir(spec, tmp_path / "net.nir")
    graph = nir.read(path)
    model = nirtorch.nir_to_torch(graph, _nirtorch_map(float(graph.metadata["dt"])))
    populations = {i: f"layer{i}" if isinstance(layer, S.Add) else f"layer{i}_neuron"
                   for i, layer in enumerate(spec.layers) if isinstance(
                       getattr(layer, "neuron", None), S.LIF)}
    seen: dict[int, list[torch.Tensor]] = {i: [] for i in populations}
    for i, name in populations.items():
        model.get_submodule(name).register_forward_hook(
            lambda _m, _x, out, i=i: seen[i].append(out[0]))
    x = _inputs(spec)
    state, out = None, None
    for _ in range(spec.timesteps):
        out, state = model(x, state)
    want = simulate(spec, x)
    assert want.spikes.keys() == seen.keys()
    for i in want.spikes:
        assert torch.equal(torch.stack(seen[i]), want.spikes[i]), f"layer {i}"
    assert torch.equal(out, want.output)


def test_graphs_a_spec_cannot_take_are_refused_by_the_node():
    spec = _residual("current")
    graph = to_nir(spec)
    graph.nodes["layer6"] = nir.Delay(delay=np.ones((8, 4, 4)))  # the shortcut branch
    with pytest.raises(SpecError, match=r"NIR node 'layer6' \(Delay\): no leanspike equivalent"):
        from_nir(graph)
    graph = to_nir(spec)  # currents summed without the neuron that integrates them
    graph.nodes["layer7"] = nir.Scale(scale=np.ones((8, 4, 4)))
    with pytest.raises(SpecError, match=r"'layer7' \(Scale\): sums the current of NIR node "
                                        r"'layer5' \(Conv2d\)"):
        from_nir(graph)
    graph = to_nir(spec)  # a recurrent edge from a later block back into the first
    graph.edges = [*graph.edges, ("layer7", "layer4")]
    with pytest.raises(SpecError, match=r"NIR node 'layer4' \(Conv2d\): on a cycle"):
        from_nir(graph)
    graph = to_nir(spec)  # a branch that never reaches the Output
    graph.nodes["dangling"] = nir.Scale(scale=np.ones((4, 8, 8)))
    graph.edges = [*graph.edges, ("layer0_neuron", "dangling")]
    with pytest.raises(SpecError, match=r"'dangling' \(Scale\): does not reach the Output"):
        from_nir(graph)


def test_an_input_gain_goes_into_the_weights_of_every_current_a_population_sums():
    """Read at twice the step it was written at, every IF's gain dt r is 2: it goes into the
    weights and biases of the currents an Add sums, and is refused where spikes come through
    no weights (a shortcut)."""
    g = torch.Generator().manual_seed(4)
    w = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    lif = lambda: S.LIF(threshold=0.75, reset="zero")  # noqa: E731
    spec = S.NetworkSpec((6,), [
        S.Linear(w(5, 6), w(5) * 0.1, None, lif()),
        S.Linear(w(5, 5), w(5) * 0.1, None, None),
        S.Linear(w(5, 5), None, None, None, inputs=(0,)),
        S.Add(inputs=(1, 2), neuron=lif()),
        S.Linear(w(3, 5), None, None, S.Integrator())], 3).validate()
    graph = to_nir(spec, dt=1e-3)
    back = from_nir(graph, dt=2e-3)
    want = spec.copy()
    for _, layer in want.weighted_layers():
        layer.weight = layer.weight * 2
        layer.bias = None if layer.bias is None else layer.bias * 2
    x = _inputs(spec)
    _same_spikes(want, back, x)
    with pytest.raises(SpecError, match=r"'layer3' \(IF\): its input gain .* is not 1, and it "
                                        r"sums spikes"):
        from_nir(to_nir(_residual("current"), dt=1e-3), dt=2e-3)
