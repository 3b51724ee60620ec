import torch

from leanspike.stdp import (
    LayerTraining,
    Pruning,
    STDPConfig,
    STDPRule,
    TTFSConv,
    build_network,
    encode,
    train_layerwise,
)
from leanspike.stdp import train as train_module
from leanspike.stdp.layers import in_bounds


def _setup(n=120):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 1, 8, 8, generator=g) * (torch.rand(n, 1, 8, 8, generator=g) > 0.5)
    config = STDPConfig(channels=(4, 6), max_epochs=(1.0, 1.0))
    return build_network((1, 8, 8), config, seed=0), encode(images, config)


FAST = LayerTraining(STDPRule(double_every=10), k=3, radius=1, max_epochs=1.0)


def test_pruned_synapses_stay_pruned_and_receive_no_updates(monkeypatch):
    net, times = _setup()
    masks = {i: [net.layers[i].mask.clone()] for i in net.conv_indices()}
    real_prune, real_apply = TTFSConv.prune, train_module.apply_stdp
    applied = []

    def prune(self, where):
        n = real_prune(self, where)
        masks[next(i for i, layer in enumerate(net.layers) if layer is self)].append(
            self.mask.clone())
        return n

    def apply(weight, mask, patch, t_post, a_plus, a_minus):
        dead = weight[~mask].clone()
        assert bool((dead == 0).all())
        n = real_apply(weight, mask, patch, t_post, a_plus, a_minus)
        assert torch.equal(weight[~mask], dead)                  # untouched
        assert n == int((mask & in_bounds(patch)).sum())         # only live synapses count
        applied.append(n)
        return n

    monkeypatch.setattr(TTFSConv, "prune", prune)
    monkeypatch.setattr(train_module, "apply_stdp", apply)
    report = train_layerwise(net, times, FAST, Pruning(threshold=0.3, interval=10))
    assert report.updates == sum(applied) > 0
    for i, history in masks.items():
        for before, after in zip(history, history[1:]):
            assert not bool((after & ~before).any())              # never revived
        conv = net.layers[i]
        assert bool((conv.weight[~conv.mask] == 0).all())
    assert any(int(h[-1].sum()) < h[0].numel() for h in masks.values())


def test_pruning_cuts_updates_and_events_at_the_same_seed():
    reports = {}
    for threshold in (0.0, 0.3):
        net, times = _setup()
        reports[threshold] = train_layerwise(net, times, FAST, Pruning(threshold, 10), seed=1)
    dense, pruned = reports[0.0], reports[0.3]
    assert pruned.updates < dense.updates and pruned.events < dense.events
    assert all(r.alive == r.total for r in dense.layers)


def test_a_layer_stops_once_converged():
    net, times = _setup()
    quick = LayerTraining(FAST.rule, k=3, radius=1, max_epochs=1.0, convergence=0.5,
                          check_every=5)
    report = train_layerwise(net, times, quick)
    assert all(r.converged and r.samples == 5 for r in report.layers)
