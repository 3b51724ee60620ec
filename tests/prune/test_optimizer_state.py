"""Rewiring optimisers round-trip through state_dict: a run interrupted, saved and resumed in a
fresh process (fresh model, fresh optimiser) follows the uninterrupted one bit for bit."""

import copy
import io

import pytest
import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.prune import STDS, GradR

X = torch.randn(256, 20, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 3, (256,), generator=torch.Generator().manual_seed(1))
STEPS, SAVED_AT = 60, 30  # the ramp (0.7 of 60 steps) ends after the save

OPTIMISERS = {
    "gradr-auto-one-prior": lambda w, o: GradR(w, o, lr=1e-2, target_sparsity=0.9,
                                               total_steps=STEPS),
    "gradr-auto-per-layer": lambda w, o: GradR(w, o, lr=1e-2, target_sparsity=0.9,
                                               total_steps=STEPS, layer_sparsity=[0.95, 0.6]),
    "gradr-a-layer-kept-whole": lambda w, o: GradR(w, o, lr=1e-2, target_sparsity=0.9,
                                                   total_steps=STEPS,
                                                   layer_sparsity=[0.95, 0.0]),
    "gradr-fixed-alpha": lambda w, o: GradR(w, o, lr=1e-2, target_sparsity=0.9, alpha=0.5),
    "stds-one-threshold": lambda w, o: STDS(w, o, lr=1e-2, target_sparsity=0.9,
                                            total_steps=STEPS),
    "stds-per-layer": lambda w, o: STDS(w, o, lr=1e-2, target_sparsity=0.9, total_steps=STEPS,
                                        layer_sparsity=[0.95, 0.6]),
}


def _build(kind: str, seed: int, optimisers=OPTIMISERS):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 3))
    weights, others = [model[0].weight, model[2].weight], [model[0].bias, model[2].bias]
    return model, optimisers[kind](weights, others)


def _train(model, opt, start: int, stop: int) -> None:
    for step in range(start, stop):  # the same minibatch at a step, resumed or not
        batch = torch.randint(0, len(X), (32,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[batch]), Y[batch]).backward()
        opt.step()


def _report(opt) -> dict:
    """Everything the optimiser reports about itself."""
    out = {"steps": opt.steps, "events": (opt.pruned_events, opt.regrown_events),
           "sparsity": opt.sparsity(), "masks": opt.masks(),
           "projected": opt.masks(at_least=0.9)}
    if isinstance(opt, GradR):
        out.update(alphas=opt.alphas, alpha=opt.alpha, mu=[pr.mu for pr in opt.priors],
                   planned=opt.planned_sparsity() if opt.total_steps else None)
    else:
        out.update(d=opt.d, thresholds=[t.d for t in opt.thresholds])
    return out


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _to_bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)  # tensors and plain values only


@pytest.mark.parametrize("kind", OPTIMISERS)
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(kind):
    model, opt = _build(kind, seed=0)
    _train(model, opt, 0, STEPS)

    first, first_opt = _build(kind, seed=0)
    _train(first, first_opt, 0, SAVED_AT)
    # (a module's state dict holds its live tensors; the optimiser's is a snapshot)
    saved_model, saved_opt = copy.deepcopy(first.state_dict()), first_opt.state_dict()
    at_save = _report(first_opt)
    on_disk = _to_bytes({"model": saved_model, "optimizer": saved_opt})
    _train(first, first_opt, SAVED_AT, STEPS)  # the original run goes on

    for state in (_from_bytes(on_disk), {"model": saved_model, "optimizer": saved_opt}):
        fresh, fresh_opt = _build(kind, seed=1)  # other initial weights: all must come from state
        fresh.load_state_dict(state["model"])
        fresh_opt.load_state_dict(state["optimizer"])
        assert _same(_report(fresh_opt), at_save)  # steps, alphas, thresholds, ramp, events
        _train(fresh, fresh_opt, SAVED_AT, STEPS)
        assert _same(fresh.state_dict(), model.state_dict())
        assert _same(_report(fresh_opt), _report(opt))
    # the in-memory state dict was a snapshot: neither run that went on from it changed it
    assert _same(saved_opt, _from_bytes(on_disk)["optimizer"])


def test_the_state_lost_before_is_now_restored():
    """Grad R after 30 steps: steps, alpha and planned sparsity; STDS: its threshold d."""
    model, opt = _build("gradr-auto-one-prior", seed=0)
    _train(model, opt, 0, 30)
    fresh, fresh_opt = _build("gradr-auto-one-prior", seed=1)
    fresh_opt.load_state_dict(opt.state_dict())
    assert fresh_opt.steps == 30 and fresh_opt.alpha == opt.alpha
    assert fresh_opt.planned_sparsity() == opt.planned_sparsity() > 0.5
    assert fresh_opt.alpha != 0.1  # the automatic alpha's starting value
    for p, q in zip(fresh_opt._rewired(), opt._rewired()):
        for key in ("sign", "theta", "m", "v"):
            assert torch.equal(fresh_opt.state[p][key], opt.state[q][key])
            assert fresh_opt.state[p][key].data_ptr() != opt.state[q][key].data_ptr()
        assert fresh_opt.state[p]["t"] == 30
        assert fresh_opt.state[p]["prior"] == opt.state[q]["prior"]

    model, opt = _build("stds-per-layer", seed=0)
    _train(model, opt, 0, 30)
    fresh, fresh_opt = _build("stds-per-layer", seed=1)
    fresh_opt.load_state_dict(opt.state_dict())
    assert fresh_opt.d == opt.d > 0
    assert [t.d for t in fresh_opt.thresholds] == [t.d for t in opt.thresholds]
    assert fresh_opt.steps == 30 and fresh_opt.total_steps == STEPS


def test_a_state_dict_of_another_optimiser_is_refused():
    model, gradr = _build("gradr-auto-one-prior", seed=0)
    _, stds = _build("stds-one-threshold", seed=0)
    with pytest.raises(ConfigError, match="not a STDS state dict: it is GradR's"):
        stds.load_state_dict(gradr.state_dict())
    adam = torch.optim.Adam(model.parameters())
    with pytest.raises(ConfigError, match="not a GradR state dict: it is a plain torch"):
        gradr.load_state_dict(adam.state_dict())


def test_langevin_noise_resumes_with_the_global_generators_state():
    noisy = {"noisy": lambda w, o: GradR(w, o, lr=1e-2, target_sparsity=0.9, total_steps=STEPS,
                                         noise=1e-4)}
    model, opt = _build("noisy", 0, noisy)
    torch.manual_seed(7)
    _train(model, opt, 0, STEPS)

    first, first_opt = _build("noisy", 0, noisy)
    torch.manual_seed(7)
    _train(first, first_opt, 0, SAVED_AT)
    state = _from_bytes(_to_bytes({"model": first.state_dict(), "rng": torch.get_rng_state(),
                                   "optimizer": first_opt.state_dict()}))
    fresh, fresh_opt = _build("noisy", 1, noisy)
    fresh.load_state_dict(state["model"])
    fresh_opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    _train(fresh, fresh_opt, SAVED_AT, STEPS)
    assert _same(fresh.state_dict(), model.state_dict()) and fresh_opt.noise == 1e-4
