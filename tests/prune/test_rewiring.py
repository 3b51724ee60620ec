import pytest
import torch

from leanspike.errors import ConfigError
from leanspike.prune import STDS, GradR, RewiringOptimizer, project_masks


def test_projection_cuts_the_weakest_live_synapses_and_never_falls_short():
    masks = [torch.tensor([1.0, 1.0, 0.0, 1.0]), torch.tensor([1.0, 1.0, 1.0])]
    scores = [torch.tensor([0.5, 0.1, -1.0, 0.9]), torch.tensor([0.2, 0.05, 3.0])]
    # 7 synapses, at least 60% pruned: 2 may live (floor), the 2 strongest survive
    out = project_masks(masks, scores, 0.6)
    assert out[0].tolist() == [0.0, 0.0, 0.0, 1.0] and out[1].tolist() == [0.0, 0.0, 1.0]
    assert project_masks(masks, scores, 0.1) is masks  # already sparse enough: untouched


@pytest.mark.parametrize("cls", [GradR, STDS])
def test_every_rewiring_optimiser_shares_the_ramp_events_and_masks(cls):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(40, 30))
    b = torch.nn.Parameter(torch.zeros(30))
    opt = cls([w], [b], lr=1e-2, target_sparsity=0.9, total_steps=60, ramp=0.5)
    assert isinstance(opt, RewiringOptimizer)
    x = torch.randn(64, 40)
    pruned = regrown = 0
    for _ in range(60):
        opt.zero_grad()
        ((x @ w + b) ** 2).mean().backward()
        opt.step()
        p, r = opt.pop_events()
        pruned, regrown = pruned + p, regrown + r
    assert opt.pop_events() == (0, 0)
    assert opt.planned_sparsity(0.9) == pytest.approx(0.9)  # the ramp ended at step 30
    # net prune events are the synapses cut; the projection lands on at least the target
    assert pruned - regrown == int((w == 0).sum())
    mask = opt.masks(at_least=0.95)[0]
    assert int(mask.sum()) <= 0.05 * w.numel() and torch.all(w[mask.bool()] != 0)


@pytest.mark.parametrize("cls", [GradR, STDS])
def test_bad_layer_targets_name_the_problem(cls):
    w, v = torch.nn.Parameter(torch.randn(4, 4)), torch.nn.Parameter(torch.randn(4))
    with pytest.raises(ConfigError, match="2 sparsities for 1 rewired"):
        cls([w], target_sparsity=0.9, total_steps=10, layer_sparsity=[0.9, 0.9])
    with pytest.raises(ConfigError, match=r"\[0, 1\), got 1.0"):
        cls([w, v], target_sparsity=0.9, total_steps=10, layer_sparsity=[0.9, 1.0])
    with pytest.raises(ConfigError, match="at least one weight"):
        cls([], target_sparsity=0.9, total_steps=10)
