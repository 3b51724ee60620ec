"""The spec's snnTorch neurons are freed with their network and survive copying and pickling,
while snnTorch's own neuron bookkeeping keeps working for the neurons that need it."""

import copy
import gc
import io
import weakref

import snntorch as snn
import snntorch.utils
import torch

from leanspike.adapters.snntorch import SpecIntegrator, SpecLeaky, to_snntorch, to_spec


def _neurons(net):
    return [m for m in net.modules() if isinstance(m, snn.SpikingNeuron)]


def test_neurons_do_not_outlive_their_network(make_conv_spec):
    spec = make_conv_spec()
    gc.collect()
    before = len(snn.SpikingNeuron.instances)
    refs = []
    for _ in range(50):
        net = to_snntorch(spec, learn_threshold=True)
        net(torch.rand(2, 1, 8, 8)).sum().backward()
        refs += [weakref.ref(m) for m in _neurons(net)] + [weakref.ref(net)]
    del net
    gc.collect()
    assert len(refs) == 50 * 5
    assert [r for r in refs if r() is not None] == []
    assert len(snn.SpikingNeuron.instances) == before


def test_snntorch_reset_still_works(make_mlp_spec):
    spec = make_mlp_spec()
    x = torch.rand(4, 12)
    net = to_snntorch(spec)
    expected = net(x)
    hidden = snn.Leaky(beta=0.5, init_hidden=True)  # an snnTorch neuron that keeps its state
    hidden(torch.ones(3))
    assert hidden.mem.abs().sum() > 0
    for target in (net, net.layers, torch.nn.Sequential(*net.layers, hidden)):
        snntorch.utils.reset(target)
    assert torch.equal(hidden.mem, torch.zeros(3))
    assert hidden in snn.SpikingNeuron.instances
    assert torch.equal(net(x), expected)
    assert all(n.reset_mem().numel() == 0 for n in _neurons(net))


def test_copied_and_pickled_networks_equal_the_original(make_conv_spec):
    spec = make_conv_spec(per_neuron=True)  # spec layer 2 is masked: module 3
    net = to_snntorch(spec, learn_threshold=True)
    x = torch.rand(3, 1, 8, 8)
    net(x).sum().backward()  # the masked weight is now a non-leaf tensor
    before = len(snn.SpikingNeuron.instances)
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    for other in (copy.deepcopy(net), torch.load(buffer, weights_only=False)):
        assert torch.equal(other(x), net(x))
        assert to_spec(other).identical(spec)
        assert all(isinstance(a, type(b)) for a, b in zip(_neurons(other), _neurons(net)))
        masked = other.layers[3]
        assert masked.weight_orig is not net.layers[3].weight_orig
        masked.weight_orig.grad = None
        (masked.weight * 2).sum().backward()  # the copy's masked weight is its own, trainable
        assert torch.equal(masked.weight_orig.grad, 2 * masked.weight_mask)
    assert len(snn.SpikingNeuron.instances) == before


def test_default_surrogate_is_snntorchs_atan():
    mem = torch.linspace(-2, 2, 41, requires_grad=True)
    ours = SpecLeaky(threshold=0.5)
    theirs = SpecLeaky(threshold=0.5, spike_grad=snn.surrogate.atan())
    grads = []
    for neuron in (ours, theirs):
        spk, _ = neuron(mem)
        (grad,) = torch.autograd.grad(spk.sum(), mem)
        grads.append((spk, grad))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])
    assert grads[0][1].abs().sum() > 0
    assert isinstance(SpecIntegrator(), snn.Leaky)
