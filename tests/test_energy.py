import pytest
import torch

from leanspike import spec as S
from leanspike.energy import PRESETS, EnergyModel, estimate, layer_macs


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
