import pytest
import torch

from leanspike import spec as S
from leanspike.energy import PRESETS, EnergyModel, count_operations, estimate, layer_macs
from leanspike.reference import simulate


def _spec():
    mask = torch.ones(4, 8, 3, 3)
    mask[:, :, 0, 0] = 0  # 32 of 288 weights pruned
    layers = [
        S.Conv2d(torch.ones(8, 1, 3, 3), None, None, S.LIF(), padding=(1, 1)),  # 8x6x6 out
        S.Conv2d(torch.ones(4, 8, 3, 3), None, mask, S.LIF(), padding=(0, 0)),  # 4x4x4 out
        S.Flatten(),
        S.Linear(torch.ones(10, 64), None, None, S.Integrator()),
    ]
    return S.NetworkSpec((1, 6, 6), layers, 2)


def test_macs_per_layer_count_live_synapses():
    assert layer_macs(_spec()) == [
        (0, 9 * 8 * 36, 9 * 8 * 36),
        (1, 288 * 16, 256 * 16),
        (3, 640, 640),
    ]


def test_energy_follows_the_papers_formula():
    spikes = {0: 0.5, 1: 0.25}
    report = estimate(_spec(), spikes)
    f1, f2, f2_live, f3 = 2592, 4608, 4096, 640
    assert report.ann_pj == pytest.approx(4.6 * (f1 + f2 + f3))
    assert report.snn_pj == pytest.approx(4.6 * f1 + 0.9 * (0.5 * f2_live + 0.25 * f3))
    assert report.synaptic_ops == pytest.approx(0.5 * f2_live + 0.25 * f3)
    assert report.spikes_per_inference == pytest.approx(0.5 * 288 + 0.25 * 64)
    assert report.ratio == pytest.approx(report.ann_pj / report.snn_pj)
    assert report.model.name.startswith("45nm FP32")
    int32 = estimate(_spec(), spikes, PRESETS["int32-45nm"])
    assert int32.snn_pj == pytest.approx(3.2 * f1 + 0.1 * (0.5 * f2_live + 0.25 * f3))
    custom = estimate(_spec(), spikes, EnergyModel("mine", 1.0, 1.0))
    assert custom.as_dict()["model"]["name"] == "mine"


def test_silent_network_costs_only_its_first_layer():
    report = estimate(_spec(), {})
    assert report.snn_pj == pytest.approx(4.6 * 2592) and report.synaptic_ops == 0


def _pooled_spec():
    """Conv-LIF 8x6x6, MaxPool 2x2 (8x3x3), Conv-LIF 4x1x1, Flatten, Linear."""
    layers = [
        S.Conv2d(torch.ones(8, 1, 3, 3), None, None, S.LIF(), padding=(1, 1)),
        S.MaxPool2d((2, 2), (2, 2)),
        S.Conv2d(torch.ones(4, 8, 3, 3), None, None, S.LIF()),
        S.Flatten(),
        S.Linear(torch.ones(10, 4), None, None, S.Integrator()),
    ]
    return S.NetworkSpec((1, 6, 6), layers, 2)


def test_max_pooling_costs_its_pooling_synapses_and_feeds_at_its_own_rate():
    # the pooling population: one unit synapse per window tap, 8 * 3 * 3 neurons x 4 taps
    f1, f_pool, f2, f3 = 2592, 8 * 9 * 4, 72 * 4 * 1, 40
    report = estimate(_pooled_spec(), {0: 0.5, 1: 0.8, 2: 0.25})
    assert [(e.index, e.kind, e.macs_dense) for e in report.layers] == [
        (0, "Conv2d", f1), (1, "MaxPool2d", 0), (2, "Conv2d", f2), (4, "Linear", f3)]
    assert report.ann_pj == pytest.approx(4.6 * (f1 + f2 + f3))  # the ANN's max: no MAC
    ops = 0.5 * f_pool + 0.8 * f2 + 0.25 * f3  # the conv after the pool sees the pool's OR
    assert report.synaptic_ops == pytest.approx(ops)
    assert report.snn_pj == pytest.approx(4.6 * f1 + 0.9 * ops)
    assert report.spikes_per_inference == pytest.approx(0.5 * 288 + 0.8 * 72 + 0.25 * 4)
    # without the pool's rate, the layer after it is fed at the rate before it
    without = estimate(_pooled_spec(), {0: 0.5, 2: 0.25})
    assert without.layers[2].input_spikes_per_neuron == 0.5


def test_max_pooling_of_the_input_costs_nothing():
    spec = _pooled_spec()
    spec.layers[:0] = [S.MaxPool2d((1, 1), (1, 1))]
    report = estimate(spec.validate(), {1: 0.5, 2: 0.8, 3: 0.25})
    assert [e.kind for e in report.layers] == ["Conv2d", "MaxPool2d", "Conv2d", "Linear"]
    assert report.layers[0].input_spikes_per_neuron is None  # still the MAC layer


def test_a_residual_graph_counts_every_synapse_group_at_the_rate_that_reaches_it():
    torch.manual_seed(0)
    w = [torch.randn(6, 4), torch.randn(6, 6), torch.randn(6, 6), torch.randn(3, 6)]
    layers = [S.Linear(w[0], neuron=S.LIF()), S.Linear(w[1], neuron=S.LIF()),
              S.Add(inputs=(1, 0)),                                  # SEW: spikes + spikes
              S.Linear(w[2]), S.Add(inputs=(3, 2), neuron=S.LIF()),  # current + unit synapses
              S.Linear(w[3], neuron=S.Integrator())]
    spec = S.NetworkSpec((4,), layers, 2).validate()
    rates = {0: 0.5, 1: 0.25, 4: 0.125}
    report = estimate(spec, rates)
    ops = {(e.index, e.kind): e.synaptic_ops for e in report.layers}
    assert ops[(0, "Linear")] == 24                   # the analog input: MACs
    assert ops[(1, "Linear")] == 0.5 * 36
    assert ops[(3, "Linear")] == (0.25 + 0.5) * 36    # the sum of two spike trains
    assert ops[(4, "Add")] == (0.25 + 0.5) * 6        # the SEW sum into unit synapses
    assert ops[(5, "Linear")] == 0.125 * 18
    assert report.synaptic_ops == pytest.approx(18 + 27 + 4.5 + 2.25)


def test_a_residual_graph_counts_events_on_every_group_and_relay_of_its_stages():
    """Dense layers without zero weights give every input the same fan-out, so the events
    counted one by one equal the rate convention, plus what the relay population carries."""
    torch.manual_seed(0)
    w = [torch.randn(6, 4), torch.randn(6, 6), torch.randn(6, 6), torch.randn(3, 6)]
    layers = [S.Linear(w[0], neuron=S.LIF(threshold=0.5)),
              S.Linear(w[1], neuron=S.LIF(threshold=0.5)),
              S.Add(inputs=(1, 0)), S.Linear(w[2]),
              S.Add(inputs=(3, 2), neuron=S.LIF(threshold=0.5)),
              S.Linear(w[3], neuron=S.Integrator())]
    spec = S.NetworkSpec((4,), layers, 3).validate()
    x = torch.rand(16, 4) + 0.5
    result = simulate(spec, x)
    rates = {i: float(s.sum()) / (s[0].numel()) for i, s in result.spikes.items()}
    assert all(r > 0 for r in rates.values())
    count = count_operations(spec, x, result.spikes)
    relay = rates[0] * 6  # layer 0's spikes wait a hop for the SEW sum's other train
    assert count.acs == pytest.approx(estimate(spec, rates).synaptic_ops + relay)
    assert count.macs == pytest.approx(24 * 3)
    assert [s.kind for s in count.stages].count("MAC") == 1
