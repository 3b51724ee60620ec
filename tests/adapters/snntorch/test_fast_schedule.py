"""SpikingNetwork.run's layer schedule (all T steps of a layer, then the next; stateless layers
once over T*B, the layers before the first neuron once on direct input) against the reference
simulation and against the plain step-by-step loop: outputs, spikes, per-step outputs and
gradients."""

import pytest
import snntorch as snn
import torch
from torch import nn

from leanspike import spec as S
from leanspike.adapters.snntorch import adopt, to_snntorch
from leanspike.adapters.snntorch.network import _fusable
from leanspike.adapters.snntorch.training import make_trainable
from leanspike.reference import simulate


def _spiking_readout_spec(seed=0, timesteps=4):
    """MLP whose output layer is a LIF layer read by its spike count."""
    g = torch.Generator().manual_seed(seed)
    layers = [S.Linear(torch.randn(20, 12, generator=g), torch.randn(20, generator=g) * 0.1,
                       None, S.LIF(threshold=0.75, leak=0.9)),
              S.Linear(torch.randn(5, 20, generator=g) * 0.5, None, None,
                       S.LIF(threshold=0.5, amplitude=2.0, reset="zero"))]
    return S.NetworkSpec((12,), layers, timesteps)


def _current_based_spec(seed=0, timesteps=4):
    """Conv with current-based neurons (current_leak), per-neuron leaks, an integrating
    current-based output."""
    g = torch.Generator().manual_seed(seed)
    leak = torch.rand(4, 8, 8, generator=g) * 0.5 + 0.5
    layers = [S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, generator=g) * 0.1,
                       None, S.LIF(threshold=0.6, leak=leak, current_leak=0.5, v_init=0.1),
                       padding=(1, 1)),
              S.MaxPool2d((2, 2), (2, 2)),
              S.Flatten(),
              S.Linear(torch.randn(16, 64, generator=g) * 0.3, None, None,
                       S.LIF(threshold=0.5, leak=torch.rand(16, generator=g), current_leak=0.25)),
              S.Linear(torch.randn(10, 16, generator=g) * 0.3, torch.randn(10, generator=g) * 0.1,
                       None, S.Integrator(leak=0.9, current_leak=0.5))]
    return S.NetworkSpec((1, 8, 8), layers, timesteps).validate()


def _per_neuron_leak_spec(seed=0, timesteps=4, reset="zero"):
    """Conv with per-neuron leaks and thresholds (no current state), a LIF hidden layer with a
    per-neuron leak, an integrating output."""
    g = torch.Generator().manual_seed(seed)
    layers = [S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, generator=g) * 0.1,
                       None, S.LIF(threshold=torch.rand(4, 8, 8, generator=g) + 0.4,
                                   leak=torch.rand(4, 8, 8, generator=g) * 0.5 + 0.5,
                                   reset=reset, v_init=0.2, amplitude=1.5),
                       padding=(1, 1)),
              S.AvgPool2d((2, 2), (2, 2)),
              S.Flatten(),
              S.Linear(torch.randn(16, 64, generator=g) * 0.3, None, None,
                       S.LIF(threshold=0.5, leak=torch.rand(16, generator=g), reset="none")),
              S.Linear(torch.randn(10, 16, generator=g) * 0.3, None, None, S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps).validate()


def _specs(make_conv_spec, make_maxpool_spec, make_signal_spec):
    return {"conv": make_conv_spec(timesteps=4, scale=2.0),
            "conv_per_neuron": make_conv_spec(per_neuron=True, reset="zero", timesteps=3,
                                              scale=2.0),
            "maxpool": make_maxpool_spec(timesteps=3),
            "signal": make_signal_spec(timesteps=3),
            "spiking_readout": _spiking_readout_spec(),
            "current_based": _current_based_spec(),
            "per_neuron_leak": _per_neuron_leak_spec()}


def _input(spec, batch=6, seed=1):
    return torch.rand(batch, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2


ALL = ["conv", "conv_per_neuron", "maxpool", "signal", "spiking_readout", "current_based",
       "per_neuron_leak"]


@pytest.mark.parametrize("surrogate", [None, "triangular"])  # triangular: the fused LIF steps
@pytest.mark.parametrize("name", ALL)
def test_layer_schedule_equals_the_reference_and_the_step_loop(
        name, surrogate, make_conv_spec, make_maxpool_spec, make_signal_spec):
    spec = _specs(make_conv_spec, make_maxpool_spec, make_signal_spec)[name]
    x = _input(spec)
    ref = simulate(spec, x)
    net = to_snntorch(spec, surrogate=surrogate)
    with torch.no_grad():
        fast = net.run(x)
        step = net.run(x, schedule="step")
    assert set(fast.spikes) == set(ref.spikes) == set(step.spikes)
    for layer, spikes in ref.spikes.items():
        assert torch.equal(fast.spikes[layer], spikes), f"layer {layer}"
        assert torch.equal(fast.spikes[layer], step.spikes[layer]), f"layer {layer}"
    assert 0 < sum(s.sum() for s in ref.spikes.values()), "test needs some spikes"
    torch.testing.assert_close(fast.logits, ref.output.to(fast.logits), rtol=0, atol=1e-5)
    torch.testing.assert_close(fast.logits, step.logits, rtol=1e-6, atol=1e-6)
    assert fast.steps.shape == step.steps.shape == (spec.timesteps, *step.logits.shape)
    torch.testing.assert_close(fast.steps, step.steps, rtol=1e-6, atol=1e-6)


def test_per_step_input_and_other_timesteps(make_conv_spec):
    net = to_snntorch(make_conv_spec(scale=2.0))
    x = torch.rand(3, 5, 1, 8, 8) * 2
    with torch.no_grad():
        fast, step = net.run(x), net.run(x, schedule="step")
        for a, b in zip(fast.spikes.values(), step.spikes.values()):
            assert torch.equal(a, b)
        torch.testing.assert_close(fast.steps, step.steps, rtol=1e-6, atol=1e-6)
        fast7, step7 = net.run(x[0], timesteps=7), net.run(x[0], timesteps=7, schedule="step")
    torch.testing.assert_close(fast7.logits, step7.logits, rtol=1e-6, atol=1e-6)
    assert fast7.spikes[0].shape[0] == 7
    with pytest.raises(Exception, match="schedule"):
        net.run(x, schedule="diagonal")


@pytest.mark.parametrize("surrogate", ["triangular", "rectangular"])
@pytest.mark.parametrize("name", ALL)
def test_layer_schedule_gives_the_step_loops_gradients(
        name, surrogate, make_conv_spec, make_maxpool_spec, make_signal_spec):
    spec = _specs(make_conv_spec, make_maxpool_spec, make_signal_spec)[name]
    grads = {}
    for schedule in ("layer", "step"):
        net = to_snntorch(spec, surrogate=surrogate)
        if surrogate is not None and name != "current_based":
            assert any(_fusable(m) for m in net.layers)
        make_trainable(net)
        net = net.double()
        x = _input(spec).double().requires_grad_()
        out = net.run(x, record_spikes=False, schedule=schedule)
        (out.logits.logsumexp(1).mean() + out.steps.square().mean()).backward()
        grads[schedule] = {n: p.grad for n, p in net.named_parameters()}
        grads[schedule]["input"] = x.grad
    assert grads["layer"].keys() == grads["step"].keys()
    nonzero = 0
    for n, g in grads["step"].items():
        assert grads["layer"][n] is not None, n
        torch.testing.assert_close(grads["layer"][n], g, rtol=1e-9, atol=1e-12, msg=n)
        nonzero += int(g.abs().sum() > 0)
    assert nonzero >= len(grads["step"]) // 2


def test_batch_norm_in_training_sees_one_step_at_a_time():
    """An adopted model with batch norm: in training mode each step's batch is normalised by
    its own statistics and the running statistics move once a step, as step by step."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                          snn.Leaky(beta=0.9, init_hidden=True, reset_delay=False), nn.Flatten(),
                          nn.Linear(256, 8), nn.BatchNorm1d(8),
                          snn.Leaky(beta=0.9, init_hidden=True, reset_delay=False), nn.Linear(8, 3),
                          snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism="none"))
    nets = {s: adopt(model, (1, 8, 8), timesteps=3) for s in ("layer", "step")}
    assert nets["layer"].layers[1] is not nets["step"].layers[1]
    x = torch.rand(5, 1, 8, 8) * 2
    outs = {s: n.train().run(x, schedule=s) for s, n in nets.items()}
    torch.testing.assert_close(outs["layer"].logits, outs["step"].logits)
    for a, b in zip(outs["layer"].spikes.values(), outs["step"].spikes.values()):
        assert torch.equal(a, b)
    stats = {s: [b.clone() for m in n.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 for b in (m.running_mean, m.running_var)] for s, n in nets.items()}
    for a, b in zip(stats["layer"], stats["step"]):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        evals = {s: n.eval().run(x, schedule=s) for s, n in nets.items()}
    torch.testing.assert_close(evals["layer"].logits, evals["step"].logits)


def test_a_hooked_neuron_is_called_at_every_step(make_conv_spec):
    net = to_snntorch(make_conv_spec(scale=2.0), surrogate="triangular")
    assert _fusable(net.layers[1])
    calls = []
    handle = net.layers[1].register_forward_hook(lambda *a: calls.append(1))
    assert not _fusable(net.layers[1])
    x = torch.rand(4, 1, 8, 8) * 2
    with torch.no_grad():
        hooked = net.run(x, timesteps=5)
    assert len(calls) == 5
    handle.remove()
    with torch.no_grad():
        fused = net.run(x, timesteps=5)
    assert len(calls) == 5
    for a, b in zip(hooked.spikes.values(), fused.spikes.values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("timesteps", [1, 3])
@pytest.mark.parametrize("v_init", [0.0, 0.3])
@pytest.mark.parametrize("learn", [False, True])
def test_zero_start_shortcuts_match_the_step_loop(timesteps, v_init, learn):
    """From v_init = 0 the layer schedule takes the first step's beta * 0 + I as I (at T=1 the
    input itself), skips the last step's reset, and runs the integrator without module calls:
    logits, per-step outputs, spikes and every gradient as the step-by-step loop gives them."""
    g = torch.Generator().manual_seed(7)
    layers = [S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, generator=g) * 0.1,
                       None, S.LIF(threshold=0.6, leak=0.8, v_init=v_init), padding=(1, 1)),
              S.AvgPool2d((2, 2), (2, 2)),
              S.Flatten(),
              S.Linear(torch.randn(10, 64, generator=g) * 0.3, None, None,
                       S.Integrator(leak=0.9, v_init=v_init))]
    spec = S.NetworkSpec((1, 8, 8), layers, timesteps).validate()
    x = torch.rand(5, 1, 8, 8, generator=g) * 2
    results = []
    for schedule in ("layer", "step"):
        net = to_snntorch(spec, surrogate="triangular", learn_beta=learn, learn_threshold=learn)
        out = net.run(x, schedule=schedule)
        (out.logits.square().sum() + out.steps.sum()).backward()
        results.append((out, {n: p.grad for n, p in net.named_parameters()}))
    (fast, fast_grads), (step, step_grads) = results
    assert torch.equal(fast.logits, step.logits) and torch.equal(fast.steps, step.steps)
    assert fast.spikes.keys() == step.spikes.keys()
    assert all(torch.equal(fast.spikes[k], step.spikes[k]) for k in fast.spikes)
    assert fast_grads.keys() == step_grads.keys()
    for name, grad in fast_grads.items():
        assert (grad is None) == (step_grads[name] is None), name
        if grad is not None:
            # the schedules sum over steps in different orders: float rounding of the sums
            # (measured up to 2e-7 of the gradient's scale), nothing a wrong term would give
            scale = float(step_grads[name].abs().max())
            assert torch.allclose(grad, step_grads[name], rtol=1e-5, atol=1e-5 * scale), name


def test_a_v_init_set_in_place_after_a_run_is_seen(make_mlp_spec):
    """Whether a v_init is all zeros is remembered per tensor version: filling it in place
    (load_state_dict, fill_) must make the next run start from the new potential."""
    import dataclasses

    spec = make_mlp_spec(timesteps=2)
    net = to_snntorch(spec).eval()
    x = torch.rand(16, 12, generator=torch.Generator().manual_seed(0)) * 2
    with torch.no_grad():
        before = net.run(x).logits
        leaky = next(m for m in net.layers if hasattr(m, "v_init") and hasattr(m, "threshold"))
        leaky.v_init.fill_(0.6)
        after = net.run(x).logits
    started = dataclasses.replace(spec, layers=[
        dataclasses.replace(layer, neuron=dataclasses.replace(layer.neuron, v_init=0.6))
        if k == 0 else layer for k, layer in enumerate(spec.layers)])
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, simulate(started, x).output, atol=1e-5, rtol=1e-5)
