"""Adopting snn.Lapicque: u = (1 - dt/RC) u + (dt/C) I is a Leaky neuron with leak 1 - dt/RC whose
input gain dt/C moves into the layer before it (or that layer's batch norm)."""

import warnings

import pytest
import snntorch as snn
import torch
from snntorch import utils
from torch import nn

from leanspike.adapters.snntorch import to_spec
from leanspike.adapters.snntorch.adopt import adopt
from leanspike.errors import ConfigError

T = 5


def lapicque(**kwargs) -> snn.Lapicque:
    return snn.Lapicque(init_hidden=True, spike_grad=snn.surrogate.fast_sigmoid(), **kwargs)


def model(reset: str, batch_norm: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    norm = [nn.BatchNorm2d(4)] if batch_norm else []
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), *norm,
                      lapicque(R=2.0, C=4.0, time_step=1.0, threshold=0.3,
                               reset_mechanism=reset),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10),
                      lapicque(beta=0.8, threshold=0.2, reset_mechanism=reset, output=True))
    if batch_norm:  # eval statistics that are not the identity
        m[1].running_mean.uniform_(-0.2, 0.2)
        m[1].running_var.uniform_(0.5, 2.0)
        m[1].weight.data.uniform_(0.5, 1.5)
    return m.eval()


def theirs(m: nn.Module, x: torch.Tensor, steps: int):
    utils.reset(m)
    hidden = []
    hook = m[2 if isinstance(m[1], nn.BatchNorm2d) else 1].register_forward_hook(
        lambda mod, i, o: hidden.append(o))
    out = [m(x)[0] for _ in range(steps)]
    hook.remove()
    return torch.stack(hidden), torch.stack(out)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_lapicque_without_reset_is_its_leaky_twin_at_every_step(digits, batch_norm):
    m = model("none", batch_norm)
    x = digits.test.tensors[0][:128]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reset: nothing to warn about
        adopted = adopt(m, (1, 8, 8), T, readout="spikes")
    spec = to_spec(adopted)
    first, out = (layer.neuron for _, layer in spec.weighted_layers())
    assert first.leak == pytest.approx(1 - 1 / 8) and first.reset == "none"
    # beta alone: R = 1 and C = dt / ln(1/beta), so the leak is 1 - ln(1/beta), not beta
    assert out.leak == pytest.approx(1 + float(torch.log(torch.tensor(0.8))))
    with torch.no_grad():
        ours = adopted.run(x)
        hidden, spikes = theirs(m, x, T)
    assert torch.equal(ours.spikes[0], hidden)
    assert torch.equal(ours.steps, spikes)
    assert 0.01 < float(hidden.mean()) < 0.99


def test_lapicque_resets_one_step_late_which_is_warned_and_exact_at_t1(digits):
    m = model("subtract")
    x = digits.test.tensors[0][:128]
    with pytest.warns(RuntimeWarning, match=r"neurons \['1', '5'\].*reset one step after"):
        adopted = adopt(m, (1, 8, 8), 1, readout="spikes")
    with torch.no_grad():
        ours = adopted.run(x)
        hidden, spikes = theirs(m, x, 1)
    assert torch.equal(ours.spikes[0], hidden) and torch.equal(ours.steps, spikes)


def test_the_users_lapicque_model_is_not_touched():
    m = model("subtract", batch_norm=True)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        adopt(m, (1, 8, 8), 2)
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("make, match", [
    (lambda: lapicque(R=1.0, C=0.5, time_step=1.0), r"layer '1' \(Lapicque\): time_step/\(R\*C\)"),
    (lambda: snn.Leaky(beta=0.9, init_hidden=True, inhibition=True),
     r"layer '1' \(Leaky\): inhibition=True"),
    (lambda: snn.Leaky(beta=0.9, init_hidden=True, state_quant=lambda u: u.round()),
     r"layer '1' \(Leaky\): state_quant"),
])
def test_what_a_spec_neuron_cannot_be_is_refused_by_name(make, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # snnTorch calls inhibition unstable
        m = nn.Sequential(nn.Linear(4, 3), make(), nn.Linear(3, 2),
                          snn.Leaky(beta=0.9, init_hidden=True, output=True))
    with pytest.raises(ConfigError, match=match):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            adopt(m, (4,), 2)
