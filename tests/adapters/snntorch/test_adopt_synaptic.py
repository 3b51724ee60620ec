"""Adopting snnTorch models built of current-based ``snn.Synaptic`` neurons."""

import warnings

import pytest
import snntorch as snn
import torch
from snntorch import functional as SF
from snntorch import utils
from torch import nn
from torch.utils.data import DataLoader

from leanspike.adapters.snntorch import (
    SpecSynaptic,
    SpecSynapticIntegrator,
    evaluate_snn,
    prune,
    retrain,
    to_spec,
)
from leanspike.adapters.snntorch.adopt import adopt, read_model
from leanspike.errors import ConfigError
from leanspike.reference import simulate

T = 4


def synaptic(**kwargs) -> snn.Synaptic:
    return snn.Synaptic(alpha=0.5, beta=0.9, init_hidden=True,
                        spike_grad=snn.surrogate.fast_sigmoid(), **kwargs)


def sequential_model() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), synaptic(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10), synaptic(output=True))


class ExplicitState(nn.Module):
    """The tutorial way with init_hidden=False: spk, syn, mem = lif(cur, syn, mem)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.lif1 = snn.Synaptic(alpha=0.6, beta=0.85)
        self.fc2 = nn.Linear(64, 10)
        self.lif2 = snn.Synaptic(alpha=0.4, beta=0.95)

    def forward(self, x):
        syn1, mem1 = self.lif1.reset_mem()
        syn2, mem2 = self.lif2.reset_mem()
        spikes = []
        for _ in range(T):
            spk1, syn1, mem1 = self.lif1(self.fc1(x.flatten(1)), syn1, mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spikes.append(spk2)
        return torch.stack(spikes)


MODELS = {"sequential": sequential_model, "explicit-state": ExplicitState}


def output_spikes(model: nn.Module, x: torch.Tensor, steps: int = T) -> torch.Tensor:
    if isinstance(model, ExplicitState):
        return model(x)[:steps]
    utils.reset(model)
    return torch.stack([model(x)[0] for _ in range(steps)])


@pytest.fixture(scope="module")
def trained(digits):
    """Each model trained a few steps the snnTorch way (spike counts)."""
    out = {}
    for name, build in MODELS.items():
        torch.manual_seed(2)
        model = build()
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
        loss_fn = SF.ce_rate_loss()
        for k, (x, y) in enumerate(DataLoader(digits.train, batch_size=64, shuffle=True)):
            loss = loss_fn(output_spikes(model, x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if k == 15:
                break
        out[name] = model.eval()
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_adopted_then_retrained_to_T1_and_pruned(name, trained, digits):
    model = trained[name]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reset timing
        adopted = adopt(model, (1, 8, 8), T)
        result = retrain(model, digits.train, digits.test, schedule=(T, 1), epochs_per_stage=2,
                         progress=False)
    kinds = [type(m) for m in adopted.layers if isinstance(m, snn.SpikingNeuron)]
    assert kinds == [SpecSynaptic, SpecSynapticIntegrator]
    leaks = [layer.neuron.current_leak for _, layer in to_spec(adopted).weighted_layers()]
    alphas = [float(m.alpha) for m in model.modules() if isinstance(m, snn.Synaptic)]
    assert leaks == alphas == ([0.5, 0.5] if name == "sequential" else
                               [float(torch.tensor(0.6)), float(torch.tensor(0.4))])
    assert evaluate_snn(adopted, digits.test).accuracy > 0.3
    assert result.final.accuracy > 0.5 and result.final.spec.timesteps == 1
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.9, epochs=2,
                   progress=False)
    assert abs(pruned.sparsity - 0.9) < 0.02 and pruned.accuracy > 0.4
    assert all(layer.neuron.current_leak > 0 for _, layer in pruned.spec.weighted_layers())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("name", list(MODELS))
def test_adoption_is_exact_where_the_reset_timing_cannot_differ(name, trained, digits):
    """Before any neuron's second step snnTorch's late reset changes nothing: at T=1 the
    adopted network's spikes are the user's model's; and the spec's reference is the network."""
    model = trained[name]
    x = digits.test.tensors[0][:64]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        adopted = adopt(model, (1, 8, 8), T, readout="spikes")
    with torch.no_grad():
        theirs = output_spikes(model, x, 1)
        ours = adopted.run(x, timesteps=1)
    assert torch.equal(ours.steps, theirs)
    with torch.no_grad():
        ours = adopted.run(x)
    ref = simulate(to_spec(adopted), x)
    for layer, spikes in ref.spikes.items():
        assert torch.equal(ours.spikes[layer], spikes), layer
    assert torch.equal(ours.logits, ref.output)


def test_the_state_passed_back_must_be_the_neurons_own_in_order():
    class Swapped(ExplicitState):
        def forward(self, x):
            syn1, mem1 = self.lif1.reset_mem()
            syn2, mem2 = self.lif2.reset_mem()
            for _ in range(2):
                spk1, syn1, mem1 = self.lif1(self.fc1(x.flatten(1)), mem1, syn1)
                spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            return spk2

    with pytest.raises(ConfigError, match=r"lif1: its state input 1 is output 2 of 'lif1'"):
        adopt(Swapped(), (1, 8, 8), 2)
    captured = read_model(ExplicitState())
    assert [s.name for s in captured.steps] == ["flatten", "fc1", "lif1", "fc2", "lif2"]


@pytest.mark.lava
@pytest.mark.parametrize("name", list(MODELS))
def test_every_spike_agrees_on_lava_with_the_current_state(name, trained, digits, lava_agrees):
    """At T = 2 the current carries the first step into the second: Lava's current-based
    neurons (float and Loihi fixed point) must reproduce it spike for spike."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = retrain(trained[name], digits.train, digits.test, schedule=(2,),
                         epochs_per_stage=1, progress=False)
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.9, epochs=2,
                   progress=False)
    assert pruned.spec.timesteps == 2
    assert all(layer.neuron.current_leak > 0 for _, layer in pruned.spec.weighted_layers())
    lava_agrees(pruned.spec, digits)
