"""NeuroBench referees leanspike: on the deployed stages its accuracy is ours, its connection
sparsity ours, its synaptic operations leanspike's event count exactly, and the rate estimate
of ``leanspike.energy`` differs only by the conventions its docstring states."""

import pytest
import torch
from torch.utils.data import TensorDataset

import leanspike.adapters.neurobench as nb
from leanspike import spec as S
from leanspike.adapters.neurobench import binary_network
from leanspike.adapters.snntorch import evaluate_snn, prune, to_snntorch
from leanspike.energy import count_operations, estimate, layer_macs
from leanspike.reference import simulate
from leanspike.registry import Registry


def _mlp(timesteps: int = 2) -> S.NetworkSpec:
    g = torch.Generator().manual_seed(0)
    layers = [S.Flatten(),
              S.Linear(torch.randn(24, 64, generator=g) * 0.5, torch.randn(24, generator=g) * 0.1,
                       None, S.LIF(threshold=0.75, amplitude=0.5)),
              S.Linear(torch.randn(10, 24, generator=g) * 0.5, None, None, S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps)


def _pooled_conv(timesteps: int = 2) -> S.NetworkSpec:
    """Conv-LIF (amplitude 0.5), AvgPool, masked Conv-LIF, Flatten, Linear-Integrator."""
    g = torch.Generator().manual_seed(1)
    mask = (torch.rand(8, 4, 3, 3, generator=g) > 0.5).float()
    layers = [S.Conv2d(torch.randn(4, 1, 3, 3, generator=g) * 0.8,
                       torch.randn(4, generator=g) * 0.1, None,
                       S.LIF(threshold=0.75, amplitude=0.5), padding=(1, 1)),
              S.AvgPool2d((2, 2), (2, 2)),
              S.Conv2d(torch.randn(8, 4, 3, 3, generator=g) * 0.8, None, mask,
                       S.LIF(threshold=0.5), padding=(1, 1)),
              S.Flatten(),
              S.Linear(torch.randn(10, 128, generator=g) * 0.3, None, None, S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, timesteps)


@pytest.fixture(scope="module")
def pruned(digits, tmp_path_factory):
    """A pruned network, trained a little, registered and loaded back by reference."""
    reg = Registry(tmp_path_factory.mktemp("reg"))
    result = prune(_mlp(timesteps=1), digits.train, digits.test, method="gradr",
                   target_sparsity=0.8, epochs=8, device="cpu", progress=False, registry=reg,
                   name="p")
    return result, reg


def _cases(make_maxpool_spec, make_signal_spec, digits) -> dict:
    """name -> (spec, a dataset of its inputs): digits for the 8x8 ones, random 1-D signals."""
    g = torch.Generator().manual_seed(2)
    signals = TensorDataset(torch.randn(64, 2, 24, generator=g) * 2,
                            torch.randint(0, 3, (64,), generator=g))
    return {"mlp": (_mlp(), digits.test), "pooled conv": (_pooled_conv(), digits.test),
            "max pooling": (make_maxpool_spec(timesteps=2), digits.test),
            "1-D": (make_signal_spec(timesteps=2), signals)}


def test_the_binary_network_is_the_spec_with_binary_spikes_into_every_later_layer(
        make_maxpool_spec, make_signal_spec, digits):
    for name, (spec, data) in _cases(make_maxpool_spec, make_signal_spec, digits).items():
        x = data.tensors[0][:64]
        net = binary_network(spec)
        synapses = [m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        seen = {m: [] for m in synapses}
        hooks = [m.register_forward_pre_hook(lambda m, args, seen=seen: seen[m].append(args[0]))
                 for m in synapses]
        with torch.no_grad():
            got = net.run(x)
        for h in hooks:
            h.remove()
        want = simulate(spec, x)
        torch.testing.assert_close(got.logits.float(), want.output, rtol=1e-5, atol=1e-5)
        assert got.spikes.keys() == want.spikes.keys(), name
        assert all(torch.equal(got.spikes[i], want.spikes[i]) for i in want.spikes), name
        values = [set(torch.cat(seen[m]).unique().tolist()) for m in synapses]
        assert not values[0] <= {0.0, 1.0}, name  # the analog input
        assert all(v <= {0.0, 1.0} for v in values[1:]), name


def test_synaptic_operations_are_leanspikes_event_count(make_maxpool_spec, make_signal_spec,
                                                        digits):
    for name, (spec, data) in _cases(make_maxpool_spec, make_signal_spec, digits).items():
        verdict = nb.referee(spec, data)["SynapticOperations"]
        x = data.tensors[0]
        count = count_operations(spec, x, simulate(spec, x).spikes)  # the reference's spikes
        assert count.acs > 0 and count.macs > 0, name
        assert verdict["Effective_MACs"] == pytest.approx(count.macs, rel=1e-12), name
        assert verdict["Effective_ACs"] == pytest.approx(count.acs, rel=1e-12), name


def test_the_rate_estimate_differs_by_its_stated_conventions(digits):
    x = digits.test.tensors[0]
    assert bool((x != 0).all()), "the convention below assumes no zero input"
    for timesteps in (1, 3):
        spec = _mlp(timesteps)
        verdict = nb.referee(spec, digits.test)["SynapticOperations"]
        rates = evaluate_snn(to_snntorch(spec), digits.test).spikes_per_neuron
        ours = estimate(spec, rates)
        # unpruned Linear layers fed spikes: every input has the same fan-out, the rate is exact
        assert ours.synaptic_ops == pytest.approx(verdict["Effective_ACs"], rel=1e-9)
        # the first layer: F_1 once per inference in ours, every step in NeuroBench's
        f_1 = layer_macs(spec)[0][2]
        assert ours.layers[0].synaptic_ops == f_1
        assert verdict["Effective_MACs"] == timesteps * f_1
    # after average pooling the estimate counts the pooled map, the stages every spike's taps
    spec = _pooled_conv()
    rates = evaluate_snn(to_snntorch(spec), digits.test).spikes_per_neuron
    ours = {layer.index: layer.synaptic_ops for layer in estimate(spec, rates).layers}
    count = {s.layer_index: s.ops for s in count_operations(spec, x, simulate(spec, x).spikes)
             .stages}
    assert 1 < count[2] / ours[2] <= 4  # s*s = 4, less the padded border
    assert count[4] == pytest.approx(ours[4], rel=1e-9)  # Flatten then Linear: the same


def test_accuracy_and_sparsities_are_ours(pruned, digits):
    result, reg = pruned
    verdict = nb.referee(result.entry_ref, digits.test, registry=reg)
    assert verdict["ClassificationAccuracy"] == pytest.approx(result.accuracy, abs=1e-6)
    assert result.accuracy > 0.5
    assert verdict["ConnectionSparsity"] == round(result.sparsity, 4)
    assert 0.75 < result.sparsity < 0.85
    # activation sparsity: every neuron at every step, the integrating readout's too
    spec = reg.load(reg.get(result.entry_ref))
    neurons = sum(torch.Size(shape).numel() for layer, shape in
                  zip(spec.layers, spec.layer_shapes()) if isinstance(layer, S.WEIGHTED))
    spikes = estimate(spec, evaluate_snn(to_snntorch(spec), digits.test).spikes_per_neuron) \
        .spikes_per_inference
    assert verdict["ActivationSparsity"] == pytest.approx(
        1 - spikes / (spec.timesteps * neurons), rel=1e-9)


def test_a_pruned_network_from_the_registry_is_counted(pruned, digits):
    result, reg = pruned
    verdict = nb.referee(result.entry_ref, digits.test, registry=reg)["SynapticOperations"]
    spec = reg.load(reg.get(result.entry_ref))
    x = digits.test.tensors[0]
    with torch.no_grad():
        spikes = to_snntorch(result.entry_ref, registry=reg).run(x).spikes
    count = count_operations(spec, x, spikes)
    assert verdict["Effective_ACs"] > 0
    assert verdict["Effective_ACs"] == pytest.approx(count.acs, rel=1e-12)
    # only live synapses count: the pruned first layer's MACs are its live weights
    assert verdict["Effective_MACs"] == layer_macs(spec)[0][2] < layer_macs(spec)[0][1]


def test_a_metric_that_fails_in_neurobench_is_an_error(monkeypatch, digits):
    from neurobench.metrics.workload import SynapticOperations

    def broken(self, model, preds, data):
        raise RuntimeError("cannot copy this layer")

    monkeypatch.setattr(SynapticOperations, "__call__", broken)
    with pytest.raises(RuntimeError, match="SynapticOperations failed .*cannot copy this layer"):
        nb.referee(_mlp(), digits.test)

