"""Current-based neurons (the spec's current_leak, snnTorch's Synaptic) on the snnTorch side."""

import pytest
import snntorch as snn
import torch

from leanspike import spec as S
from leanspike.adapters.snntorch import (
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
    make_trainable,
    to_snntorch,
    to_spec,
)
from leanspike.adapters.snntorch.training import _keep_in_range, _ranges
from leanspike.reference import simulate


def _current_based(spec: S.NetworkSpec, alphas=(0.5, 0.25, 0.75, 0.6)) -> S.NetworkSpec:
    for (_, layer), alpha in zip(spec.weighted_layers(), alphas, strict=True):
        layer.neuron.current_leak = alpha
    return spec.validate()


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_matches_the_reference_spike_for_spike(make_conv_spec, per_neuron, reset):
    spec = _current_based(make_conv_spec(per_neuron=per_neuron, reset=reset, timesteps=5,
                                         scale=1.5))
    x = torch.rand(8, 1, 8, 8) * 2
    ref = simulate(spec, x)
    net = to_snntorch(spec)
    assert [type(m) for m in net.layers if isinstance(m, (SpecLeaky, SpecIntegrator))] == \
        [SpecSynaptic] * 3 + [SpecSynapticIntegrator]
    with torch.no_grad():
        out = net.run(x)
    assert set(out.spikes) == set(ref.spikes) == {0, 2, 4}
    for layer, spikes in ref.spikes.items():
        assert torch.equal(out.spikes[layer], spikes), f"layer {layer}"
        assert 0 < spikes.mean() < 1, "test needs some but not all neurons to fire"
    torch.testing.assert_close(out.logits, ref.output, rtol=0, atol=1e-5)


def test_a_spiking_current_based_readout_matches(make_mlp_spec):
    spec = make_mlp_spec(timesteps=6)
    spec.layers[-1].neuron = S.LIF(threshold=0.4, amplitude=0.5)
    spec = _current_based(spec, (0.5, 0.3))
    x = torch.rand(16, 12) * 2
    ref = simulate(spec, x)
    with torch.no_grad():
        out = to_snntorch(spec).run(x)
    for layer, spikes in ref.spikes.items():
        assert torch.equal(out.spikes[layer], spikes), f"layer {layer}"
    assert torch.equal(out.logits, ref.output)


def test_round_trip_is_bit_exact_and_mixed_layers_keep_their_kind(tmp_path, make_conv_spec):
    spec = _current_based(make_conv_spec(), (0.5, 0.0, 0.75, 0.0))
    net = to_snntorch(spec)
    kinds = [type(m) for m in net.layers if isinstance(m, (SpecLeaky, SpecIntegrator))]
    assert kinds == [SpecSynaptic, SpecLeaky, SpecSynaptic, SpecIntegrator]
    back = to_spec(net)
    assert back.identical(spec)
    assert S.load_spec(back.save(tmp_path)).identical(spec)


def test_the_state_update_is_snntorch_synaptics():
    """Without a spike (a threshold never reached) SpecSynaptic is snn.Synaptic step for step."""
    theirs = snn.Synaptic(alpha=0.6, beta=0.8, threshold=1e9, reset_mechanism="none")
    ours = SpecSynaptic(0.6, 0.8, threshold=1e9)
    x = torch.randn(20, 4, 7)
    syn_a = mem_a = syn_b = mem_b = None
    syn_a, mem_a = theirs.reset_mem()
    for t in range(20):
        _, syn_a, mem_a = theirs(x[t], syn_a, mem_a)
        _, syn_b, mem_b = ours(x[t], syn_b, mem_b)
        assert torch.equal(syn_a, syn_b) and torch.equal(mem_a, mem_b), t
    assert ours not in snn.SpikingNeuron.instances


def test_alpha_trains_and_stays_in_range(make_mlp_spec):
    net = to_snntorch(_current_based(make_mlp_spec(timesteps=4), (0.5, 0.3)),
                      spike_grad=snn.surrogate.atan())
    make_trainable(net)
    alphas = [m.alpha for m in net.layers if isinstance(m, (SpecSynaptic,
                                                            SpecSynapticIntegrator))]
    assert len(alphas) == 2 and all(isinstance(a, torch.nn.Parameter) for a in alphas)
    net(torch.rand(8, 12) * 2).logsumexp(1).mean().backward()
    assert all(a.grad is not None and a.grad.abs() > 0 for a in alphas)
    with torch.no_grad():
        alphas[0].fill_(1.7)
        alphas[1].fill_(-0.2)
    _keep_in_range(_ranges(net))
    assert float(alphas[0]) == 1.0 and float(alphas[1]) == 0.0
