import pytest
import snntorch as snn
import torch

from leanspike import spec as S
from leanspike.adapters.snntorch import SpecIntegrator, SpecLeaky, to_snntorch, to_spec
from leanspike.errors import SpecError
from leanspike.reference import simulate


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_model_matches_the_reference_spike_for_spike(make_conv_spec, per_neuron, reset):
    spec = make_conv_spec(per_neuron=per_neuron, reset=reset, timesteps=4, scale=2.0)
    x = torch.rand(8, 1, 8, 8) * 2
    ref = simulate(spec, x)
    net = to_snntorch(spec)
    with torch.no_grad():
        out = net.run(x)
    assert set(out.spikes) == set(ref.spikes) == {0, 2, 4}  # keyed by spec layer index
    for layer, spikes in ref.spikes.items():
        assert torch.equal(out.spikes[layer], spikes), f"layer {layer}"
        assert 0 < spikes.mean() < 1, "test needs some but not all neurons to fire"
    torch.testing.assert_close(out.logits, ref.output, rtol=0, atol=1e-5)


def test_model_is_made_of_snntorch_neurons(make_conv_spec):
    net = to_snntorch(make_conv_spec())
    neurons = [m for m in net.modules() if isinstance(m, snn.Leaky)]
    assert len(neurons) == 4
    assert isinstance(neurons[-1], SpecIntegrator)
    assert all(isinstance(n, SpecLeaky) for n in neurons[:-1])


@pytest.mark.parametrize("per_neuron", [False, True])
def test_spec_round_trips_through_snntorch(tmp_path, make_conv_spec, per_neuron):
    spec = make_conv_spec(per_neuron=per_neuron)
    back = to_spec(to_snntorch(spec))
    assert back.identical(spec)
    assert S.load_spec(back.save(tmp_path)).identical(spec)


def test_mask_uses_torch_pruning_and_stays_pruned_while_training(make_conv_spec):
    spec = make_conv_spec(scale=2.0)
    net = to_snntorch(spec)
    conv = net.layers[3]
    assert hasattr(conv, "weight_mask")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = net(torch.rand(4, 1, 8, 8)).square().mean()
    loss.backward()
    opt.step()
    pruned = spec.layers[2].mask == 0
    assert torch.all(conv.weight[pruned] == 0)
    assert torch.equal(to_spec(net).layers[2].mask, spec.layers[2].mask)


def test_surrogate_gradients_reach_every_layer_and_the_thresholds(make_conv_spec):
    net = to_snntorch(make_conv_spec(scale=2.0), spike_grad=snn.surrogate.atan(),
                      learn_threshold=True)
    net(torch.rand(4, 1, 8, 8)).logsumexp(1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_per_step_input(make_mlp_spec):
    spec = make_mlp_spec(timesteps=3)
    net = to_snntorch(spec)
    x = torch.rand(3, 2, 12)
    ref_last = simulate(spec, x[0]).output
    same = net(x[0].expand(3, 2, 12).contiguous())
    torch.testing.assert_close(same, ref_last)
    with pytest.raises(Exception, match="time steps"):
        net(torch.rand(5, 2, 12))


def test_unsupported_module_is_named(make_mlp_spec):
    net = to_snntorch(make_mlp_spec())
    net.layers.insert(1, torch.nn.Dropout())
    with pytest.raises(SpecError, match=r"layers\[1\]: Dropout has no network-spec equivalent"):
        to_spec(net)


@pytest.mark.parametrize("surrogate", ["rectangular", "triangular"])
def test_threshold_relative_surrogates_keep_the_forward_exact(make_conv_spec, surrogate):
    spec = make_conv_spec(per_neuron=True, scale=2.0)
    net = to_snntorch(spec, surrogate=surrogate, learn_threshold=True, learn_beta=True)
    x = torch.rand(4, 1, 8, 8) * 2
    torch.testing.assert_close(net(x), simulate(spec, x).output, rtol=0, atol=1e-5)
    net(x).logsumexp(1).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_surrogate_gradient_values():
    from leanspike.adapters.snntorch.surrogates import threshold_relative_spike

    mem = torch.tensor([0.5, 1.5, 2.5, 3.5], requires_grad=True)
    th = torch.tensor(2.0, requires_grad=True)
    threshold_relative_spike(mem, th, "triangular").sum().backward()
    # z = mem/2 - 1 = [-0.75, -0.25, 0.25, 0.75]; h = 0.3 * (1 - |z|)
    h = 0.3 * torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(mem.grad, h / 2)
    torch.testing.assert_close(th.grad, -(h * mem.detach() / 4).sum())
    mem.grad = None
    threshold_relative_spike(mem * 2, th, "rectangular").sum().backward()  # z = mem - 1
    torch.testing.assert_close(mem.grad, torch.tensor([2.0, 2.0, 0.0, 0.0]) / 2 * 1.0)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_max_pooling_matches_the_reference_and_round_trips(tmp_path, make_maxpool_spec, reset):
    spec = make_maxpool_spec(timesteps=3, reset=reset)
    net = to_snntorch(spec)
    assert [type(m).__name__ for m in net.layers] == [
        "Conv2d", "SpecLeaky", "MaxPool2d", "Conv2d", "SpecLeaky", "MaxPool2d", "Flatten",
        "Linear", "SpecIntegrator"]
    assert net.spec_index == [0, 0, 1, 2, 2, 3, 4, 5, 5]
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2
    ref = simulate(spec, x)
    with torch.no_grad():
        out = net.run(x)
    assert set(out.spikes) == set(ref.spikes) == {0, 1, 2, 3}
    for layer, spikes in ref.spikes.items():
        assert torch.equal(out.spikes[layer], spikes), f"layer {layer}"
        assert 0 < spikes.mean() < 1, "test needs some but not all neurons to fire"
    torch.testing.assert_close(out.logits, ref.output, rtol=0, atol=1e-5)
    back = to_spec(net)
    assert back.identical(spec)
    assert S.load_spec(back.save(tmp_path)).identical(spec)


@pytest.mark.parametrize("pool, culprit", [
    (torch.nn.MaxPool2d(2, padding=1), "padded or ceil-mode"),
    (torch.nn.MaxPool2d(2, ceil_mode=True), "padded or ceil-mode"),
    (torch.nn.MaxPool2d(2, dilation=2), "dilated max pooling"),
    (torch.nn.MaxPool2d(2, return_indices=True), "returns indices"),
])
def test_max_pooling_the_spec_cannot_describe_is_named(make_maxpool_spec, pool, culprit):
    net = to_snntorch(make_maxpool_spec())
    net.layers[2] = pool
    with pytest.raises(SpecError, match=rf"layers\[2\] \(MaxPool2d.*\): .*{culprit}"):
        to_spec(net)
