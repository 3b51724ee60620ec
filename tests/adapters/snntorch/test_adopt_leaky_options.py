"""Adopting snn.Leaky with a leak per channel or per neuron (``beta`` a tensor, learnt or not)
and reset_mechanism="none" on hidden layers: the spec keeps both, so the adopted network is the
user's, retrains, prunes and runs on Lava."""

import warnings

import pytest
import snntorch as snn
import torch
from snntorch import functional as SF
from snntorch import utils
from torch import nn
from torch.utils.data import DataLoader

from leanspike.adapters.snntorch import prune, retrain, to_spec
from leanspike.adapters.snntorch.adopt import adopt
from leanspike.reference import simulate

T = 4


def model(learn_beta: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    grad = snn.surrogate.fast_sigmoid()
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=torch.tensor([0.5, 0.7, 0.9, 1.0]).reshape(4, 1, 1), init_hidden=True,
                  reset_mechanism="none", learn_beta=learn_beta, spike_grad=grad),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 32),
        snn.Leaky(beta=torch.linspace(0.6, 0.95, 32), init_hidden=True, spike_grad=grad,
                  reset_mechanism="none", learn_beta=learn_beta),
        nn.Linear(32, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True, spike_grad=grad,
                  reset_mechanism="none"))


def their_spikes(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    utils.reset(m)
    return torch.stack([m(x)[0] for _ in range(T)])


def test_the_leaks_and_reset_are_kept_and_the_network_is_the_users_at_every_step(digits):
    m = model().eval()
    x = digits.test.tensors[0][:64]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reset: no warning about snnTorch's reset timing
        adopted = adopt(m, (1, 8, 8), T, readout="spikes")
    spec = to_spec(adopted)
    first, hidden, _ = (layer.neuron for _, layer in spec.weighted_layers())
    assert first.reset == hidden.reset == "none"
    assert first.leak.shape == (4, 8, 8)
    assert torch.equal(first.leak[:, 0, 0], torch.tensor([0.5, 0.7, 0.9, 1.0]))
    assert torch.equal(hidden.leak, torch.linspace(0.6, 0.95, 32))
    with torch.no_grad():
        ours = adopted.run(x)
        theirs = their_spikes(m, x)
    # no reset, so snnTorch's delayed reset cannot differ: exact at every step, not only T=1
    assert torch.equal(ours.steps, theirs)
    ref = simulate(spec, x)
    for layer, spikes in ref.spikes.items():
        assert torch.equal(ours.spikes[layer], spikes), layer


@pytest.mark.lava
def test_learnt_per_channel_leaks_retrain_prune_and_agree_on_lava(digits, lava_agrees):
    m = model(learn_beta=True)
    optimizer = torch.optim.Adam(m.parameters(), lr=5e-3)
    loss_fn = SF.ce_rate_loss()
    for k, (x, y) in enumerate(DataLoader(digits.train, batch_size=64, shuffle=True)):
        loss = loss_fn(their_spikes(m, x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if k == 10:
            break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = retrain(m, digits.train, digits.test, schedule=(2,), epochs_per_stage=1,
                         progress=False)
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.9, epochs=2,
                   progress=False)
    leak = pruned.spec.layers[0].neuron.leak
    assert isinstance(leak, torch.Tensor) and len(set(leak[:, 0, 0].tolist())) == 4
    lava_agrees(pruned.spec, digits)
