"""Graph specs (format version 7) in snnTorch: both residual styles run as the reference does,
extract back bit for bit, and train through the Add."""

import copy
import io

import pytest
import torch
import torch.nn.functional as F

from leanspike import spec as S
from leanspike.adapters.snntorch import to_snntorch, to_spec
from leanspike.adapters.snntorch.network import SpecAdd
from leanspike.reference import simulate


def _conv(cin, cout, k=3, neuron="lif", **node):
    torch.manual_seed(cin * 7 + cout)
    n = S.LIF(threshold=0.625, leak=0.875) if neuron == "lif" else None
    return S.Conv2d(torch.randn(cout, cin, k, k) * 0.4, torch.randn(cout) * 0.1, neuron=n,
                    padding=(k // 2, k // 2), **node)


def residual_spec(style: str) -> S.NetworkSpec:
    """stem -> block (conv a, conv b, shortcut = the stem's spikes) -> linear readout, as in
    tests/test_graph_spec.py but with neuron parameters exact in float32 (snnTorch keeps them
    in float32, so the round trip is bit for bit only for such values): ``"current"`` adds the
    shortcut to conv b's current in the block's output population, ``"sew"`` sums conv b's
    spikes and the stem's."""
    layers = [_conv(1, 4, name="stem"), _conv(4, 4, name="a")]
    if style == "current":
        layers += [_conv(4, 4, neuron=None, name="b"),
                   S.Add(neuron=S.LIF(threshold=0.75, leak=0.9375), inputs=(2, 0), name="add")]
    else:
        layers += [_conv(4, 4, name="b"), S.Add(inputs=(2, 0), name="add")]
    layers += [S.AvgPool2d((2, 2), (2, 2)), S.Flatten(),
               S.Linear(torch.randn(3, 64) * 0.2, torch.zeros(3), neuron=S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps=3).validate()


def projection_spec() -> S.NetworkSpec:
    """A 1x1 convolution shortcut (no neuron) into a neuron-carrying Add, a max pool of spikes
    on the way out: a shortcut path with weights of its own."""
    layers = [_conv(1, 4, name="stem"), _conv(4, 6, name="a"),
              _conv(6, 6, neuron=None, name="b"),
              _conv(4, 6, k=1, neuron=None, inputs=(0,), name="shortcut"),
              S.Add(neuron=S.LIF(threshold=0.75, leak=0.875), inputs=(2, 3), name="add"),
              S.MaxPool2d((2, 2), (2, 2)), S.Flatten(),
              S.Linear(torch.randn(3, 96) * 0.2, torch.zeros(3), neuron=S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps=3).validate()


def input_add_spec() -> S.NetworkSpec:
    """Two currents of the network input summed by the output Add (the same at every step
    until the first neuron: the layer schedule's constant input)."""
    torch.manual_seed(0)
    layers = [S.Linear(torch.randn(5, 4), neuron=S.LIF()),
              S.Linear(torch.randn(3, 5)), S.Linear(torch.randn(3, 4), inputs=(-1,)),
              S.Add(inputs=(1, 2), neuron=S.Integrator())]
    return S.NetworkSpec((4,), layers, 2).validate()


SPECS = {"current": lambda: residual_spec("current"), "sew": lambda: residual_spec("sew"),
         "projection": projection_spec, "input_add": input_add_spec}


@pytest.mark.parametrize("schedule", ["layer", "step"])
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_graph_runs_exactly_as_the_reference(kind, schedule):
    spec = SPECS[kind]()
    torch.manual_seed(1)
    x = torch.rand(5, *spec.input_shape) * 2
    want = simulate(spec, x)
    net = to_snntorch(spec)
    assert net.sources == [spec.inputs_of(i) for i in range(len(spec.layers))]
    with torch.no_grad():
        got = net.run(x, schedule=schedule)
    assert torch.equal(got.logits, want.output)
    assert sorted(got.spikes) == sorted(want.spikes) == spec.spiking_layers()
    for i, s in want.spikes.items():
        assert torch.equal(got.spikes[i], s), i
    if kind != "input_add":
        assert want.spikes[0].sum() > 0  # the shortcut carries spikes


@pytest.mark.parametrize("schedule", ["layer", "step"])
def test_per_step_input_runs_as_the_reference_step_by_step(schedule):
    spec = residual_spec("current")
    torch.manual_seed(2)
    x = torch.rand(spec.timesteps, 4, 1, 8, 8) * 2
    net = to_snntorch(spec)
    with torch.no_grad():
        got = net.run(x, schedule=schedule)
        ref = net.run(x, schedule="step")
    assert torch.equal(got.logits, ref.logits)
    assert all(torch.equal(got.spikes[i], ref.spikes[i]) for i in ref.spikes)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_graph_round_trips_bit_for_bit(kind):
    spec = SPECS[kind]()
    net = to_snntorch(spec)
    assert any(isinstance(m, SpecAdd) for m in net.layers)
    back = to_spec(net)
    assert back.identical(spec) and back.is_graph
    assert [layer.name for layer in back.layers] == [layer.name for layer in spec.layers]


def test_a_chain_keeps_no_wiring():
    chain = S.NetworkSpec((1, 8, 8), [_conv(1, 4), S.Flatten(),
                                      S.Linear(torch.randn(3, 256), neuron=S.Integrator())], 2)
    net = to_snntorch(chain.validate())
    assert net.sources is None and net.node_inputs is None and net.node_names is None
    assert to_spec(net).identical(chain)


@pytest.mark.parametrize("kind", ["current", "sew", "projection"])
def test_surrogate_training_moves_every_weighted_layer(kind):
    spec = SPECS[kind]()
    net = to_snntorch(spec, surrogate="triangular")
    weighted = [m for m in net.layers if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    before = [m.weight.detach().clone() for m in weighted]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    torch.manual_seed(3)
    x, y = torch.rand(16, 1, 8, 8) * 2, torch.randint(0, 3, (16,))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    for k, (m, w) in enumerate(zip(weighted, before)):
        assert not torch.equal(m.weight, w), f"weighted module {k} did not learn"
    trained = to_spec(net)
    assert trained.is_graph
    assert torch.equal(simulate(trained, x).output, net.run(x, schedule="step").logits.detach())


@pytest.mark.parametrize("kind", ["current", "sew"])
def test_deepcopy_and_torch_save_keep_the_graph(kind):
    spec = SPECS[kind]()
    net = to_snntorch(spec, surrogate="triangular")
    F.cross_entropy(net(torch.rand(2, 1, 8, 8)), torch.tensor([0, 1])).backward()
    twin = copy.deepcopy(net)
    assert twin.sources == net.sources and twin.sources is not net.sources
    assert to_spec(twin).identical(to_spec(net))
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert to_spec(loaded).identical(spec)
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
