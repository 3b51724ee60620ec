import pytest
import torch

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.reference import simulate


def _one_neuron(reset: str, v_init: float = 0.0, leak: float = 1.0) -> S.NetworkSpec:
    layers = [
        S.Linear(torch.ones(1, 1), None, None,
                 S.LIF(threshold=1.0, leak=leak, reset=reset, amplitude=2.0, v_init=v_init)),
        S.Linear(torch.ones(1, 1), None, None, S.Integrator()),
    ]
    return S.NetworkSpec((1,), layers, timesteps=5)


def test_subtractive_reset_on_the_step_it_fires():
    # u: 0.5, 1.0 (not > 1: strict), 1.5 -> fire, 0.5 | 1.0 | 1.5 -> fire, 0.5
    result = simulate(_one_neuron("subtract"), torch.tensor([[0.5]]))
    assert result.spikes[0].flatten().tolist() == [0, 0, 1, 0, 1]
    assert result.output.item() == pytest.approx(4.0)  # two spikes of amplitude 2 integrated


def test_reset_to_zero():
    # u: 1.25 -> fire, 0 | 1.25 -> fire, 0 | ... ; subtract would keep 0.25 and fire twice in a row
    result = simulate(_one_neuron("zero"), torch.tensor([[0.625]]))
    assert result.spikes[0].flatten().tolist() == [0, 1, 0, 1, 0]
    subtract = simulate(_one_neuron("subtract"), torch.tensor([[0.625]]))
    assert subtract.spikes[0].flatten().tolist() == [0, 1, 0, 1, 1]


def test_initial_membrane_potential_and_leak():
    # v_init 0.5: u1 = 0.5*0.5 + 0.625 = 0.875 ; u2 = 0.4375 + 0.625 = 1.0625 -> fire
    result = simulate(_one_neuron("subtract", v_init=0.5, leak=0.5), torch.tensor([[0.625]]))
    assert result.spikes[0].flatten().tolist()[:2] == [0, 1]


def test_mask_removes_synapses():
    spec = _one_neuron("subtract")
    spec.layers[0].mask = torch.zeros(1, 1)
    result = simulate(spec, torch.tensor([[5.0]]))
    assert result.spikes[0].sum() == 0 and result.output.item() == 0.0


def test_conv_network_runs_and_counts(make_conv_spec):
    spec = make_conv_spec(scale=2.0)
    result = simulate(spec, torch.rand(4, 1, 8, 8))
    assert result.output.shape == (4, 10)
    assert set(result.spikes) == {0, 2, 4}
    assert result.spikes[2].shape == (3, 4, 6, 4, 3)
    counts = result.spike_counts()
    assert all(0 <= c <= spec.timesteps for c in counts.values())
    assert 0 < sum(counts.values())


def test_wrong_input_shape_is_rejected(make_conv_spec):
    with pytest.raises(ConfigError, match=r"input shape \(1, 9, 9\)"):
        simulate(make_conv_spec(), torch.zeros(1, 1, 9, 9))


def test_max_pooling_of_spikes_passes_amplitude_times_or(make_maxpool_spec):
    spec = make_maxpool_spec(timesteps=3)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2
    result = simulate(spec, x)
    assert set(result.spikes) == {0, 1, 2, 3}  # the pools' outputs are spikes too
    lif, pooled = result.spikes[0], result.spikes[1]
    windows = lif.reshape(3 * 6, 4, 4, 2, 4, 2).amax((3, 5)).reshape(pooled.shape)
    assert torch.equal(pooled, windows)  # a pooled spike: any spike of its 2x2 window
    assert 0 < pooled.mean() < 1 and pooled.mean() > lif.mean()
    # what the next layer receives: amplitude * OR, so pooling spikes or pooling the amplitude
    # times spikes computes the same network
    assert torch.equal(result.spikes[3], torch.nn.functional.max_pool2d(
        result.spikes[2].flatten(0, 1), 3, 1).reshape(result.spikes[3].shape))


def test_max_pooling_of_the_analog_input_is_a_real_max(make_maxpool_spec):
    spec = make_maxpool_spec()
    spec.layers[:0] = [S.MaxPool2d((1, 2), (1, 1))]
    spec.layers[1].weight = spec.layers[1].weight[:, :, :, :2].contiguous()  # (8, 7) -> (8, 8)
    spec.validate()
    x = torch.rand(3, 1, 8, 8)
    result = simulate(spec, x)
    assert 0 not in result.spikes  # an analog max is no spike
    manual = spec.copy()
    manual.layers.pop(0)
    manual.input_shape = (1, 8, 7)
    want = simulate(manual, torch.maximum(x[..., :-1], x[..., 1:]))
    assert torch.equal(result.output, want.output)


def test_a_current_leak_is_snntorch_synaptic_resetting_on_the_step():
    """i = a*i + I; u = b*u + i; fire u > th; reset u only (the current carries on)."""
    spec = S.NetworkSpec((1,), [S.Linear(torch.ones(1, 1), None, None,
                                     S.LIF(threshold=1.0, leak=0.5, current_leak=0.5)),
                              S.Linear(torch.ones(1, 1), None, None,
                                     S.Integrator(leak=1.0, current_leak=0.5))], timesteps=4)
    r = simulate(spec, torch.tensor([[0.6]]))
    # i: .6, .9, 1.05, 1.125; u: .6, 1.2 -> fire -> .2, 1.15 -> .15, 1.2 -> .2
    assert r.spikes[0].flatten().tolist() == [0, 1, 1, 1]
    # the output integrates a current of the spikes: i2 = 0, 1, 1.5, 1.75; u2 = sum
    assert torch.allclose(r.output, torch.tensor([[4.25]]))


def test_reset_none_fires_while_above_threshold_and_keeps_the_potential():
    spec = S.NetworkSpec((1,), [S.Linear(torch.ones(1, 1), None, None,
                                         S.LIF(threshold=1.0, leak=0.5, reset="none")),
                                S.Linear(torch.ones(1, 1), None, None, S.Integrator())], 4)
    r = simulate(spec, torch.tensor([[0.8]]))
    # u: .8, 1.2 (fires, kept), 1.4 (fires), 1.5 (fires)
    assert r.spikes[0].flatten().tolist() == [0, 1, 1, 1]


def test_a_per_neuron_leak_leaks_each_neuron_by_its_own():
    spec = S.NetworkSpec((1,), [S.Linear(torch.ones(3, 1), None, None,
                                         S.LIF(threshold=1.5, leak=torch.tensor([0.0, 0.5, 1.0]))),
                                S.Linear(torch.ones(1, 3), None, None, S.Integrator())], 3)
    r = simulate(spec, torch.tensor([[0.6]]))
    # u after 3 steps of 0.6: 0.6 | 0.6, 0.9, 1.05 | 0.6, 1.2, 1.8 -> fires at step 3
    assert r.spikes[0][:, 0].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 1]]
