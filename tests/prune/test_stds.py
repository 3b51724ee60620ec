import pytest
import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune import STDS


def test_a_synapse_under_the_threshold_still_learns_and_comes_back():
    w = nn.Parameter(torch.tensor([0.5, -0.4, 0.01, -0.01]))
    opt = STDS([w], lr=0.01, target_sparsity=0.5, total_steps=10, ramp=0.1)
    opt.zero_grad()
    w.sum().mul(0).backward()
    opt.step()  # the ramp is over: the two smallest are under the threshold
    assert opt.d == pytest.approx(0.01) and torch.equal(w.detach()[2:], torch.zeros(2))
    for _ in range(60):
        opt.zero_grad()
        (-(w * torch.tensor([0.0, 0.0, 10.0, 0.0]))).sum().backward()  # wants w[2] larger
        opt.step()
    # it outgrew the weaker of the other two, which fell under the (never shrinking) threshold
    assert w[2] > 0, "the synapse under the threshold should have grown back"
    assert w[1] == 0 and w[0] > 0
    assert opt.pop_events()[1] >= 1
    assert opt.sparsity() == pytest.approx(0.5)


def test_the_threshold_follows_the_target_per_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 3))
    x, y = torch.randn(256, 20), torch.randint(0, 3, (256,))
    steps, ds = 200, []
    opt = STDS([model[0].weight, model[2].weight], [model[0].bias, model[2].bias], lr=1e-2,
               target_sparsity=0.9, total_steps=steps, layer_sparsity=[0.95, 0.5])
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        ds.append(opt.d)
    assert ds == sorted(ds)  # a growing threshold
    assert float((model[0].weight == 0).float().mean()) == pytest.approx(0.95, abs=0.01)
    assert float((model[2].weight == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    masks = opt.masks()
    assert torch.equal(masks[0].bool(), model[0].weight != 0)


def test_bad_stds_settings():
    w = nn.Parameter(torch.ones(3))
    with pytest.raises(ConfigError, match="needs total_steps"):
        STDS([w], target_sparsity=0.9, total_steps=0)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        STDS([w], target_sparsity=1.0, total_steps=5)
