"""The binary network of a residual graph: every synapse group of the stages its own module fed
binary spikes (the analog input into the first), relays included, the spec's logits and spikes;
NeuroBench's synaptic operations on it are ``count_operations``' exactly."""

import pytest
import torch
from torch.utils.data import TensorDataset

import leanspike.adapters.neurobench as nb
from leanspike import spec as S
from leanspike.adapters.neurobench import binary_network
from leanspike.adapters.neurobench.binary import BinaryGraph, Relay
from leanspike.energy import count_operations
from leanspike.errors import SpecError
from leanspike.loihi import to_stages
from leanspike.reference import simulate
from leanspike.zoo.residual import sew_resnet


def _resnet(style: str) -> S.NetworkSpec:
    return sew_resnet(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
                      timesteps=2, style=style, threshold=0.5)


def _dense_mlp() -> S.NetworkSpec:
    """A pruned current-add MLP (dense groups) with a spiking readout (amplitude 0.5)."""
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(8, 8, generator=g) > 0.4
    return S.NetworkSpec((6,), [
        S.Linear(torch.randn(8, 6, generator=g), neuron=S.LIF(threshold=0.5, amplitude=0.5)),
        S.Linear(torch.randn(8, 8, generator=g) * 0.5, neuron=S.LIF(threshold=0.5)),
        S.Linear(torch.randn(8, 8, generator=g), torch.randn(8, generator=g) * 0.1, mask),
        S.Add(neuron=S.LIF(threshold=0.5), inputs=(2, 0)),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.LIF(threshold=0.5, amplitude=0.5))],
        3)


def _current_based() -> S.NetworkSpec:
    """Per-neuron leaks and current-based neurons (snnTorch's Synaptic), the join's too."""
    g = torch.Generator().manual_seed(3)
    return S.NetworkSpec((6,), [
        S.Linear(torch.randn(8, 6, generator=g),
                 neuron=S.LIF(threshold=0.5, amplitude=0.5, leak=torch.rand(8, generator=g))),
        S.Linear(torch.randn(8, 8, generator=g) * 0.5,
                 neuron=S.LIF(threshold=0.5, current_leak=0.5)),
        S.Linear(torch.randn(8, 8, generator=g), torch.randn(8, generator=g) * 0.1),
        S.Add(neuron=S.LIF(threshold=0.5, current_leak=0.3), inputs=(2, 0)),
        S.Linear(torch.randn(3, 8, generator=g), neuron=S.Integrator(current_leak=0.2))], 4)


def _signal() -> S.NetworkSpec:
    """1-D: a current add, then a SEW sum on top of it."""
    g = torch.Generator().manual_seed(3)
    return S.NetworkSpec((2, 12), [
        S.Conv1d(torch.randn(4, 2, 3, generator=g), neuron=S.LIF(threshold=0.5), padding=(1,)),
        S.Conv1d(torch.randn(4, 4, 3, generator=g) * 0.5, padding=(1,)),
        S.Add(neuron=S.LIF(threshold=0.5), inputs=(1, 0)),
        S.Add(inputs=(2, 0)),
        S.Flatten(),
        S.Linear(torch.randn(3, 48, generator=g), neuron=S.Integrator())], 2)


def _pooled() -> S.NetworkSpec:
    """Max pooling (a pooling population) feeding a block, and a SEW sum of spikes and
    average-pooled spikes folded into dense groups."""
    g = torch.Generator().manual_seed(4)
    return S.NetworkSpec((1, 8, 8), [
        S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), neuron=S.LIF(threshold=0.5,
                                                                    amplitude=0.5),
                 padding=(1, 1)),
        S.MaxPool2d(),
        S.Conv2d(torch.randn(4, 4, 3, 3, generator=g) * 0.5, neuron=S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.Conv2d(torch.randn(4, 4, 3, 3, generator=g) * 0.5, padding=(1, 1)),
        S.Add(neuron=S.LIF(threshold=0.5), inputs=(3, 1)),
        S.AvgPool2d(),
        S.Flatten(),
        S.Linear(torch.randn(3, 16, generator=g), neuron=S.Integrator())], 2)


def _sew_of_pooled() -> S.NetworkSpec:
    g = torch.Generator().manual_seed(4)
    return S.NetworkSpec((1, 8, 8), [
        S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), neuron=S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.AvgPool2d(),
        S.Conv2d(torch.randn(4, 4, 3, 3, generator=g) * 0.5, neuron=S.LIF(threshold=0.5),
                 padding=(1, 1)),
        S.Add(inputs=(2, 1)),  # SEW: spikes plus the pooled stem (averages of spikes)
        S.Flatten(),
        S.Linear(torch.randn(3, 64, generator=g), neuron=S.Integrator())], 2)


CASES = {"SEW ResNet": lambda: _resnet("sew"), "current-add ResNet": lambda: _resnet("current"),
         "pruned dense MLP": _dense_mlp, "current-based MLP": _current_based, "1-D": _signal,
         "max pooled block": _pooled, "SEW sum of pooled spikes": _sew_of_pooled}


def _x(spec: S.NetworkSpec, n: int = 48, seed: int = 1) -> torch.Tensor:
    """Inputs without a zero (so that the first stage's MACs are every synapse's)."""
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2 \
        + 0.01


@pytest.mark.parametrize("name", CASES)
def test_every_synapse_group_is_a_module_fed_binary_spikes_and_the_logits_are_the_specs(name):
    spec = CASES[name]()
    stages = to_stages(spec)
    net = binary_network(spec)
    assert isinstance(net, BinaryGraph)
    synapses = [m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    groups = [g for k, st in enumerate(stages) for g in st.synapse_groups(k)]
    assert len(synapses) == len(groups) > len(stages)  # one module per group, a join has two
    assert sum(isinstance(m, Relay) for m in net.modules()) == sum(st.relay for st in stages)
    x = _x(spec)
    want = simulate(spec, x)
    for schedule in ("layer", "step"):
        seen = {m: [] for m in synapses}
        hooks = [m.register_forward_pre_hook(lambda m, args, seen=seen: seen[m].append(args[0]))
                 for m in synapses]
        with torch.no_grad():
            got = net.run(x, schedule=schedule)
        for h in hooks:
            h.remove()
        torch.testing.assert_close(got.logits.float(), want.output, rtol=1e-5, atol=1e-5)
        # keyed by spec layer; relays report none of their own
        assert got.spikes.keys() == want.spikes.keys(), (name, schedule)
        assert all(torch.equal(got.spikes[i], want.spikes[i]) for i in want.spikes), name
        for module, group in zip(synapses, groups):
            values = set(torch.cat(seen[module]).unique().tolist())
            if group.source == S.INPUT:
                assert not values <= {0.0, 1.0}, name  # the analog input
            else:
                assert values <= {0.0, 1.0}, name
    for i, s in want.spikes.items():  # a test that could fail: every population fires
        assert 0.0 < float(s.mean()) < 0.95, (name, i)


def test_a_residual_network_and_its_snntorch_model_give_the_same_logits():
    from leanspike.adapters.snntorch import to_snntorch

    for style in ("sew", "current"):
        spec = _resnet(style)
        x = _x(spec)
        with torch.no_grad():
            ours, theirs = binary_network(spec).run(x), to_snntorch(spec).run(x)
        torch.testing.assert_close(ours.logits.float(), theirs.logits, rtol=1e-5, atol=1e-5)
        assert all(torch.equal(ours.spikes[i], theirs.spikes[i]) for i in theirs.spikes)


@pytest.mark.parametrize("name", CASES)
def test_neurobench_counts_a_residual_networks_operations_as_count_operations(name):
    spec = CASES[name]()
    x = _x(spec, 64, seed=2)
    data = TensorDataset(x, torch.randint(0, 3, (64,), generator=torch.Generator()
                                          .manual_seed(0)))
    verdict = nb.referee(spec, data)
    ops = verdict["SynapticOperations"]
    want = simulate(spec, x)
    count = count_operations(spec, x, want.spikes)  # the reference's spikes
    assert count.acs > 0 and count.macs > 0, name
    assert ops["Effective_MACs"] == pytest.approx(count.macs, rel=1e-12), name
    assert ops["Effective_ACs"] == pytest.approx(count.acs, rel=1e-12), name
    # MACs only where the analog input arrives, the first stage; ACs everywhere after it
    stages = to_stages(spec)
    first = [st for k, st in enumerate(stages)
             if any(g.source == S.INPUT for g in st.synapse_groups(k))]
    assert [st.layer_index for st in first] == [stages[0].layer_index]
    assert {s.layer_index for s in count.stages if s.kind == "MAC"} == {stages[0].layer_index}
    # activation sparsity over the spec's populations, the readout's too; relays are none
    neurons = sum(torch.Size(st.layer_shape).numel() for st in stages if not st.relay)
    spikes = sum(float(s.sum()) for s in want.spikes.values()) / x.shape[0]
    assert verdict["ActivationSparsity"] == pytest.approx(
        1 - spikes / (spec.timesteps * neurons), rel=1e-9), name


def test_relays_change_no_spike_and_cost_one_ac_per_relayed_spike():
    """A same-step network needs no delay, but the deployed one has the relays, and their
    unit synapses are counted, as ``count_operations`` counts them."""
    spec = _resnet("current")
    stages = to_stages(spec)
    net = binary_network(spec)
    relays = [k for k, st in enumerate(stages) if st.relay]
    x = _x(spec)
    seen = {}
    modules = list(net.layers)
    for k, m in enumerate(modules):  # a relay's synapses are the module before its Relay
        if isinstance(m, Relay):
            synapse = next(s for s in reversed(modules[:k])
                           if isinstance(s, (torch.nn.Linear, torch.nn.Conv2d)))
            seen[synapse] = []
            synapse.register_forward_pre_hook(lambda m, args: seen[m].append(args[0]))
    assert len(seen) == len(relays)
    with torch.no_grad():
        got = net.run(x)
    want = simulate(spec, x).spikes
    for inputs, k in zip(seen.values(), relays):
        source = stages[k].layer_index  # a relay's spikes are its source's
        relayed = torch.cat(inputs).sum() / x.shape[0]
        assert float(relayed) == float(want[source].sum()) / x.shape[0] > 0
        assert torch.equal(got.spikes[source], want[source])


def test_what_the_stages_cannot_deploy_is_refused_naming_the_layer():
    g = torch.Generator().manual_seed(5)
    spec = S.NetworkSpec((6,), [
        S.Linear(torch.randn(6, 6, generator=g), neuron=S.LIF()),
        S.Add(inputs=(0, S.INPUT), name="skip"),
        S.Linear(torch.randn(3, 6, generator=g), neuron=S.Integrator())], 2)
    with pytest.raises(SpecError, match=r"layers\[2\] \(Linear\).*analog input past other "
                                        r"layers"):
        binary_network(spec)
