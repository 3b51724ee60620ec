import pytest
import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune import GradR, connectivity


def test_a_pruned_synapse_receives_gradient_and_regrows():
    w = nn.Parameter(torch.tensor([0.5, -0.5]))
    opt = GradR([w], lr=0.01, target_sparsity=0.5, alpha=1e-3)
    opt.state[w]["theta"][0] = -0.02  # synapse 0 pruned
    with torch.no_grad():
        w[0] = 0.0
    for _ in range(10):
        opt.zero_grad()
        loss = -(w * torch.tensor([10.0, 0.0])).sum()  # wants w[0] larger, along its sign
        loss.backward()
        opt.step()
    assert w[0] > 0, "the pruned synapse should have grown back"
    assert opt.pop_events()[1] == 1  # one regrowth


def test_signs_are_fixed_and_pruned_weights_are_exact_zeros():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(50))
    signs = torch.sign(w.detach()).clone()
    opt = GradR([w], lr=0.05, target_sparsity=0.9, alpha=1.0)
    for _ in range(100):
        opt.zero_grad()
        (w * torch.randn(50)).sum().backward()  # noise: the prior wins
        opt.step()
    nonzero = w.detach() != 0
    assert torch.all(torch.sign(w.detach())[nonzero] == signs[nonzero])
    assert opt.sparsity() > 0.5
    assert torch.equal(opt.masks()[0].bool(), nonzero)


def test_auto_alpha_follows_the_target_and_masks_project_onto_it():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 3))
    x, y = torch.randn(256, 20), torch.randint(0, 3, (256,))
    steps = 300
    opt = GradR([model[0].weight, model[2].weight], [model[0].bias, model[2].bias], lr=1e-2,
                target_sparsity=0.8, total_steps=steps)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    # the controller raised alpha while the sparsity lagged the ramp, and pruning followed
    assert opt.alpha > 0.1 and 0.3 < opt.sparsity() <= 0.85
    masks = opt.masks(at_least=0.9)
    assert 1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks) == \
        pytest.approx(0.9, abs=1e-3)
    alive = sum(c.alive for c in connectivity(model))
    assert alive == sum(int((m.weight != 0).sum()) for m in (model[0], model[2]))


def test_bad_settings():
    w = nn.Parameter(torch.ones(3))
    with pytest.raises(ConfigError, match=r"\[0.5, 1\)"):
        GradR([w], target_sparsity=0.3, alpha=1.0)
    with pytest.raises(ConfigError, match="needs total_steps"):
        GradR([w], target_sparsity=0.9)
    with pytest.raises(ConfigError, match="alpha must be"):
        GradR([w], target_sparsity=0.9, alpha=-1.0)


def _two_layer_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 3))
    x, y = torch.randn(256, 20), torch.randint(0, 3, (256,))
    return model, x, y


def test_one_prior_per_layer_follows_each_layers_target():
    model, x, y = _two_layer_problem()
    steps = 400
    opt = GradR([model[0].weight, model[2].weight], [model[0].bias, model[2].bias], lr=1e-2,
                target_sparsity=0.9, total_steps=steps, ramp=0.5, layer_sparsity=[0.95, 0.6])
    assert len(opt.alphas) == 2
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (16,), generator=gen)  # minibatch noise
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    first = float((model[0].weight == 0).float().mean())
    second = float((model[2].weight == 0).float().mean())
    # each layer's own automatic alpha steers it to its own target
    assert first == pytest.approx(0.95, abs=0.03) and second == pytest.approx(0.6, abs=0.1)
    masks = opt.masks()  # projected onto each layer's own target
    assert int(masks[0].sum()) <= 40 and int(masks[1].sum()) <= 48
    assert not (masks[0].bool() & (model[0].weight == 0)).any()


def test_a_layer_kept_whole_has_no_prior():
    model, x, y = _two_layer_problem()
    opt = GradR([model[0].weight, model[2].weight], lr=1e-2, target_sparsity=0.9,
                total_steps=10, layer_sparsity=[0.95, 0.0])
    assert len(opt.alphas) == 1
    first, second = model[0].weight.detach().clone(), model[2].weight.detach().clone()
    opt.zero_grad()
    (model(x) * 0).sum().backward()  # no gradient signal: only a prior moves the weights
    opt.step()
    assert torch.equal(model[2].weight.detach(), second)
    assert (model[0].weight.detach().abs() < first.abs()).all()
    # plain Adam there: the sign is free, nothing is ever pruned, the mask is all ones
    for _ in range(30):
        opt.zero_grad()
        (model[2].weight.sum() * 10).backward()  # drives every weight down through zero
        opt.step()
    assert (model[2].weight < 0).sum() > (second < 0).sum()
    assert torch.equal(opt.masks()[1], torch.ones_like(second))


def test_layer_targets_must_match_the_weights():
    w, v = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    with pytest.raises(ConfigError, match="2 sparsities for 1 rewired"):
        GradR([w], target_sparsity=0.9, alpha=1.0, layer_sparsity=[0.9, 0.9])
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\)"):
        GradR([w, v], target_sparsity=0.9, alpha=1.0, layer_sparsity=[0.9, 1.0])


def test_a_fixed_alpha_without_a_step_budget_plans_the_target_itself():
    from torch import nn

    from leanspike.prune import GradR

    layer = nn.Linear(4, 4)
    opt = GradR([layer.weight], [layer.bias], alpha=0.5, target_sparsity=0.8)
    assert opt.planned_sparsity() == 0.8
