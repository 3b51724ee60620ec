import pytest
import torch

from leanspike.adapters.snntorch import FinetuneConfig, SpecLeaky, make_trainable, to_snntorch
from leanspike.adapters.snntorch.training import finetune, parameter_groups
from leanspike.errors import ConfigError


def test_relative_threshold_learning_rates(make_conv_spec):
    net = to_snntorch(make_conv_spec(per_neuron=True))
    make_trainable(net)
    groups = parameter_groups(net, 1e-3, relative_thresholds=True)
    neurons = [m for m in net.modules() if isinstance(m, SpecLeaky)]
    assert len(groups) == len(neurons) + 1
    for group, neuron in zip(groups, neurons):
        assert group["params"] == [neuron.threshold]
        assert group["lr"] == pytest.approx(1e-3 * float(neuron.threshold.abs().mean()))
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len([p for p in net.parameters() if p.requires_grad])
    assert len(parameter_groups(net, 1e-3, relative_thresholds=False)) == 1


def test_finetune_keeps_neurons_in_range(make_mlp_spec):
    spec = make_mlp_spec(sizes=(12, 20, 5))
    net = to_snntorch(spec, surrogate="rectangular")
    data = torch.utils.data.TensorDataset(torch.randn(64, 12), torch.randint(0, 5, (64,)))
    result = finetune(net, data, FinetuneConfig(epochs=3, lr=0.5, device="cpu"), progress=False)
    assert len(result.history) == 3
    for m in net.modules():
        if isinstance(m, SpecLeaky):
            assert float(m.threshold.min()) > 0 and 0 <= float(m.beta) <= 1
    with pytest.raises(ConfigError, match="lr must be > 0"):
        FinetuneConfig(lr=0)


def test_finetune_draws_no_bar_in_a_log(make_mlp_spec, capsys, monkeypatch):
    monkeypatch.delenv("LEANSPIKE_PROGRESS", raising=False)
    data = torch.utils.data.TensorDataset(torch.rand(16, 12), torch.randint(0, 5, (16,)))
    net = to_snntorch(make_mlp_spec())
    result = finetune(net, data, FinetuneConfig(epochs=2, device="cpu"), desc="tune")
    assert len(result.history) == 2
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("LEANSPIKE_PROGRESS", "1")
    finetune(net, data, FinetuneConfig(epochs=2, device="cpu"), desc="tune")
    assert "tune: 100%" in capsys.readouterr().err


def test_only_what_the_optimiser_moves_is_kept_in_range(make_mlp_spec):
    """Thresholds and leaks that train are clamped after each step; buffers and frozen
    parameters, which never move, are not visited at all."""
    from leanspike.adapters.snntorch import to_snntorch
    from leanspike.adapters.snntorch.neurons import SpecLeaky
    from leanspike.adapters.snntorch.training import MIN_THRESHOLD, _keep_in_range, _ranges

    net = to_snntorch(make_mlp_spec())
    assert _ranges(net) == []  # as built: weights train, neuron parameters are buffers
    leaky = next(m for m in net.modules() if isinstance(m, SpecLeaky))
    leaky.threshold = torch.nn.Parameter(torch.tensor(-3.0))
    leaky.beta = torch.nn.Parameter(torch.tensor(1.5), requires_grad=False)
    ranges = _ranges(net)
    assert [t for t, _, _ in ranges] == [leaky.threshold]
    _keep_in_range(ranges)
    assert float(leaky.threshold) == pytest.approx(MIN_THRESHOLD) and float(leaky.beta) == 1.5
