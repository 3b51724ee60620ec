import warnings

import pytest
import snntorch as snn
import torch
from torch import nn

from leanspike.adapters.snntorch import SpecLeaky
from leanspike.adapters.snntorch.adopt import adopt
from leanspike.adapters.snntorch.retraining import retrain
from leanspike.errors import ConfigError
from leanspike.registry import Registry


def users_model():
    """Written the usual snnTorch way, as a user would."""
    torch.manual_seed(0)
    beta = 0.9
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), snn.Leaky(beta=beta, init_hidden=True),
        nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(8 * 4 * 4, 32), snn.Leaky(beta=beta, init_hidden=True),
        nn.Linear(32, 10), snn.Leaky(beta=beta, init_hidden=True, output=True),
    )


def test_a_plain_snntorch_model_goes_through_retrain_unchanged(digits, tmp_path):
    model = users_model()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    reg = Registry(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reset_delay notice, silent layers before training
        result = retrain(model, digits.train, digits.test, schedule=(3, 2, 1),
                         epochs_per_stage=2, registry=reg, name="mine", progress=False)
    assert [s.timesteps for s in result.stages] == [3, 2, 1]
    assert result.final.accuracy > 0.5
    # the user's own module is left as it was
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in original.items())
    # every stage is registered as the child of the previous one, at its own T
    assert [(e.timesteps, e.stage) for e in reg.lineage("mine")] == [
        (1, "retrained"), (2, "retrained"), (3, "retrained")]
    assert [s.spec.timesteps for s in result.stages] == [3, 2, 1]


def test_each_stage_runs_at_exactly_its_T_and_learns_thresholds_and_leaks(digits):
    with pytest.warns(RuntimeWarning, match="reset_delay"):
        net = adopt(users_model(), (1, 8, 8), 3)
    before = [(float(m.threshold), float(m.beta)) for m in net.modules()
              if isinstance(m, SpecLeaky)]
    calls = []
    first = net.layers[1]
    hook = first.register_forward_hook(lambda *a: calls.append(1))
    x = digits.test.tensors[0][:8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = retrain(net, digits.train, digits.test, schedule=(3, 1), epochs_per_stage=1,
                         progress=False)
    hook.remove()
    assert result.network.timesteps == 1
    out = result.network.run(x)
    assert all(s.shape[0] == 1 for s in out.spikes.values())
    calls.clear()
    first.register_forward_hook(lambda *a: calls.append(1))
    result.network.run(x, timesteps=None)
    assert len(calls) == 1  # one step of the first neuron layer per inference at T=1
    after = [(float(m.threshold), float(m.beta)) for m in result.network.modules()
             if isinstance(m, SpecLeaky)]
    assert all(b[0] != a[0] for a, b in zip(before, after)), "thresholds did not change"
    assert all(b[1] != a[1] for a, b in zip(before, after)), "leaks did not change"


def test_adopt_refuses_what_it_cannot_read():
    with pytest.raises(ConfigError,
                       match=r"layer '1' \(Alpha\): only snn.Leaky, snn.Synaptic and snn.Lapicque"):
        adopt(nn.Sequential(nn.Linear(4, 4), snn.Alpha(alpha=0.9, beta=0.8),
                            nn.Linear(4, 2), snn.Leaky(beta=0.9)), (4,), 2)
    with pytest.raises(ConfigError, match=r"layer '0' \(Leaky\): a neuron must follow"):
        adopt(nn.Sequential(snn.Leaky(beta=0.9, init_hidden=True), nn.Linear(4, 2),
                            snn.Leaky(beta=0.9, init_hidden=True)), (4,), 2)
    with pytest.raises(ConfigError, match=r"layer '2': receives all of '1'.s outputs"):
        adopt(nn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.9), nn.Linear(4, 2),
                            snn.Leaky(beta=0.9)), (4,), 2)
    with pytest.raises(ConfigError, match=r"cannot read Leaky.forward"):
        adopt(snn.Leaky(beta=0.5), (4,), 2)
    with pytest.raises(ConfigError, match=r"layer '1': per-neuron current decays"):
        adopt(nn.Sequential(nn.Linear(4, 3), snn.Synaptic(alpha=torch.rand(3), beta=0.9,
                                                          init_hidden=True),
                            nn.Linear(3, 2), snn.Leaky(beta=0.9, init_hidden=True)), (4,), 2)


def test_adopt_warns_about_snntorch_reset_timing():
    with pytest.warns(RuntimeWarning, match="reset_delay=True"):
        adopt(nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True),
                            nn.Linear(3, 2), snn.Leaky(beta=0.9, init_hidden=True)), (4,), 2)


def test_bad_epochs_per_stage(digits):
    with pytest.raises(ConfigError, match="one non-negative count per stage"):
        retrain(users_model(), digits.train, digits.test, schedule=(3, 2), epochs_per_stage=[1],
                progress=False)
