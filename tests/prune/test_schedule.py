"""Each method's schedule, driven by a loop that never asks which method it runs."""

import copy
import io
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from leanspike.prune import (
    GradR,
    MagnitudeSchedule,
    PruneRecipe,
    RewiringOptimizer,
    connectivity,
    cubic_schedule,
    make_schedule,
)

X = torch.randn(128, 20, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 3, (128,), generator=torch.Generator().manual_seed(1))
BATCHES = 4


def _model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 3))


def _layers(model):
    return [model[0], model[2]]


def _plan(recipe: PruneRecipe, seed: int = 0):
    model = _model(seed)
    return model, make_schedule(recipe, model, _layers(model), steps_per_epoch=BATCHES)


def _sparsity(model) -> float:
    layers = connectivity(model)
    return 1 - sum(c.alive for c in layers) / sum(c.total for c in layers)


def _epoch(model, plan, epoch: int) -> dict:
    """The adapter's loop, in small: the schedule decides, the loop trains."""
    optimizer = plan.before_epoch(epoch)
    lr = optimizer.param_groups[0]["lr"]
    for b in range(BATCHES):
        batch = torch.randint(0, len(X), (32,),
                              generator=torch.Generator().manual_seed(epoch * BATCHES + b))
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X[batch]), Y[batch])
        loss.backward()
        optimizer.step()
    record = {"epoch": epoch + 1, "loss": loss.item(), "lr": lr,
              "rewiring": isinstance(optimizer, RewiringOptimizer)}
    plan.after_epoch(epoch, record)
    record["sparsity"] = _sparsity(model)
    return record


def _run(model, plan, start: int, stop: int) -> list[dict]:
    return [_epoch(model, plan, e) for e in range(start, stop)]


@pytest.mark.parametrize("method, steering", [("gradr", "alpha"), ("stds", "threshold")])
def test_rewiring_then_masks_fixed_at_the_target_then_fine_tuning(method, steering):
    recipe = PruneRecipe(method=method, target_sparsity=0.9, epochs=4, allocation="global",
                         lr=1e-2, finetune_lr=3e-3)
    model, plan = _plan(recipe)
    history = _run(model, plan, 0, 4)
    assert [h["rewiring"] for h in history] == [True, True, False, False]
    for h in history[:2]:  # the rewiring epochs report their events and steering
        assert {"pruned", "regrown", steering} <= h.keys() and h["lr"] == 1e-2
    assert all("pruned" not in h and steering not in h for h in history[2:])
    # the masks were fixed (and cut to the target) before the first fine-tuning epoch
    assert all(torch_prune.is_pruned(m) for m in _layers(model))
    assert history[2]["sparsity"] == history[3]["sparsity"] >= 0.9
    # plain Adam at finetune_lr, cosine to zero over the two fine-tuning epochs
    assert history[2]["lr"] == 3e-3 and history[3]["lr"] == pytest.approx(1.5e-3)
    assert plan.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    masks = [m.weight_mask.clone() for m in _layers(model)]
    plan.finish()  # nothing left to fix
    assert all(torch.equal(m.weight_mask, k) for m, k in zip(_layers(model), masks))


def test_rewiring_to_the_end_fixes_the_masks_when_it_finishes():
    recipe = PruneRecipe(method="gradr", target_sparsity=0.95, epochs=3, finetune_fraction=0.0)
    model, plan = _plan(recipe)
    history = _run(model, plan, 0, 3)
    assert all(h["rewiring"] and "alpha" in h for h in history)
    assert not any(torch_prune.is_pruned(m) for m in _layers(model))
    plan.finish()
    assert all(torch_prune.is_pruned(m) for m in _layers(model))
    # balanced: both layers projected onto their own share, never short of the target
    assert _sparsity(model) >= 0.95 and isinstance(plan.rewiring, GradR)
    assert len(plan.rewiring.priors) == 2


def test_magnitude_follows_the_cubic_ramp_then_fine_tunes():
    recipe = PruneRecipe(method="magnitude", target_sparsity=0.8, epochs=10,
                         allocation="global", finetune_lr=1e-3, cosine=False)
    model, plan = _plan(recipe)
    assert plan.ramp == 7  # 70% of the epochs
    history = _run(model, plan, 0, 10)
    total = sum(m.weight.numel() for m in _layers(model))
    for epoch, h in enumerate(history[:7]):
        planned = cubic_schedule(epoch + 1, 7, 0.8)
        assert h["sparsity"] == pytest.approx(round(planned * total) / total, abs=1e-12)
    assert [h["sparsity"] for h in history[6:]] == [history[6]["sparsity"]] * 4
    assert history[6]["sparsity"] == pytest.approx(0.8)
    assert [h["lr"] for h in history] == [1e-2] * 7 + [1e-3] * 3  # no cosine: constant
    assert not any("pruned" in h for h in history)


def test_oneshot_magnitude_cuts_at_the_first_epoch_each_layer_to_its_share():
    recipe = PruneRecipe(method="magnitude", target_sparsity=0.9, epochs=3, schedule="oneshot")
    model, plan = _plan(recipe)
    assert isinstance(plan, MagnitudeSchedule) and plan.ramp == 1
    history = _run(model, plan, 0, 3)
    assert history[0]["sparsity"] == history[2]["sparsity"] >= 0.9
    kept = [c.alive for c in connectivity(model)]
    assert kept == [math.floor((1 - s) * c.total + 1e-6)
                    for s, c in zip(plan.layer_sparsity, connectivity(model))]
    assert kept[0] == kept[1]  # balanced: the same number of synapses in each layer


# saved while rewiring (or on the ramp), at the boundary, and with two fine-tuning epochs to go
RESUMES = [("gradr", 6, k) for k in (1, 3, 4)] + [("stds", 6, k) for k in (1, 3, 4)] + \
    [("magnitude", 10, k) for k in (3, 7, 8)]


@pytest.mark.parametrize("method, epochs, saved_at", RESUMES)
def test_a_resumed_schedule_is_bit_identical_to_an_uninterrupted_one(method, epochs, saved_at):
    recipe = PruneRecipe(method=method, target_sparsity=0.9, epochs=epochs)
    model, plan = _plan(recipe)
    history = _run(model, plan, 0, epochs)
    plan.finish()

    first, first_plan = _plan(recipe)
    _run(first, first_plan, 0, saved_at)
    buffer = io.BytesIO()
    torch.save({"schedule": first_plan.state_dict(),
                "model": copy.deepcopy(first.state_dict())}, buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)

    fresh, fresh_plan = _plan(recipe, seed=1)  # other initial weights
    fresh_plan.load_state_dict(state["schedule"])  # first: it installs the masks
    fresh.load_state_dict(state["model"])
    assert fresh_plan.epochs_done == saved_at
    resumed = _run(fresh, fresh_plan, saved_at, epochs)
    fresh_plan.finish()
    assert resumed == history[saved_at:]  # losses, learning rates, events, steering
    assert fresh.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():  # weights and masks
        assert torch.equal(fresh.state_dict()[key], value), key
