import torch
import torch.nn.functional as F

from leanspike.stdp import NEVER, FirstSpikePool, TTFSConv, k_winners, ttfs_step
from leanspike.stdp.layers import first_spikes


def _random_conv(seed=0, o=4, c=3, k=3, prune=0.4, threshold=1.2, inhibition=True):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(o, c, k, k, generator=g, dtype=torch.float64)
    mask = torch.rand(o, c, k, k, generator=g) > prune
    return TTFSConv(w, threshold, padding=k // 2, mask=mask, inhibition=inhibition)


def _random_times(seed=1, n=5, shape=(3, 6, 6), T=8, silent=0.3):
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, T, (n, *shape), generator=g)
    return torch.where(torch.rand(n, *shape, generator=g) < silent, NEVER, t)


def test_event_driven_integration_equals_a_masked_convolution():
    conv, times, T = _random_conv(), _random_times(), 8
    v, events = conv.potentials(times, T)
    wave = torch.stack([(times <= t).to(torch.float64) for t in range(T)], 1)  # cumulative
    ref = F.conv2d(wave.flatten(0, 1), conv.weight * conv.mask, padding=1)
    assert torch.allclose(v.flatten(0, 1), ref, atol=1e-12)
    # events: each presynaptic spike times its live outgoing synapses (inside the image)
    spiking = (times < NEVER).to(torch.float64)
    expected = F.conv2d(spiking, conv.mask.to(torch.float64), padding=1).sum()
    assert events == int(expected)


def test_pruned_synapses_are_not_integrated():
    conv = _random_conv(prune=0.0)
    shape = (3, 6, 6)
    full = conv.synapses(shape).count
    conv.prune(torch.rand(conv.weight.shape, generator=torch.Generator().manual_seed(3)) < 0.75)
    live = conv.synapses(shape)
    assert live.count < 0.4 * full                         # the unrolled work shrank too
    assert bool((conv.weight[~conv.mask] == 0).all())
    times = _random_times()
    _, events = conv.potentials(times, 8)
    spiking = (times < NEVER).reshape(len(times), -1)
    assert events == int((spiking.to(torch.int64) * live.out_degree).sum())


def test_each_neuron_fires_once_at_its_first_crossing():
    v = torch.tensor([[0.0, 0.5, 1.0, 1.5, 2.0], [0.0, 0.0, 0.1, 0.2, 0.3]]).T[None]  # [1, T, 2]
    t, v_at = first_spikes(v, 1.0)
    assert t[0].tolist() == [2, NEVER] and v_at[0].tolist() == [1.0, 0.0]


def test_vectorised_layer_equals_the_step_by_step_definition():
    for inhibition in (True, False):
        conv, times, T = _random_conv(inhibition=inhibition), _random_times(), 8
        out, _, _ = conv.fire(times, T)
        v_all, _ = conv.potentials(times, T)
        increments = torch.diff(v_all, dim=1, prepend=torch.zeros_like(v_all[:, :1]))
        v = torch.zeros_like(v_all[:, 0])
        fired = torch.zeros_like(v, dtype=torch.bool)
        blocked = torch.zeros_like(v[:, :1], dtype=torch.bool)
        step_times = torch.full_like(out, NEVER)
        for t in range(T):
            v, fired, blocked, s = ttfs_step(v, fired, blocked, increments[:, t], conv.threshold,
                                             inhibition, channel_dim=1)
            step_times[s] = t
        assert torch.equal(out, step_times)
        if inhibition:
            assert int((out < NEVER).sum(1).max()) <= 1   # one map per position


def test_pooling_passes_the_first_spike_of_each_window():
    t = torch.tensor([[[[5, 3, NEVER, NEVER], [7, 9, NEVER, 2]]]])
    assert FirstSpikePool(2).fire(t).tolist() == [[[[3, 2]]]]


def test_k_winners_are_earliest_one_per_map_and_spread_out():
    times = torch.full((3, 5, 5), NEVER)
    pot = torch.zeros(3, 5, 5, dtype=torch.float64)
    times[0, 2, 2], pot[0, 2, 2] = 1, 3.0
    times[1, 2, 3], pot[1, 2, 3] = 1, 5.0    # same time, larger potential: wins first
    times[0, 0, 0] = 2                       # map 0 again: excluded after map 0 wins
    times[2, 2, 1] = 0                       # earliest of all
    times[2, 4, 4] = 3
    winners = k_winners(times, pot, k=5, radius=1)
    # (0,2,2) lies within radius 1 of the first winner; (2,4,4) is in map 2, which has won
    assert [(w.feature, w.y, w.x, w.time) for w in winners] == [(2, 2, 1, 0), (1, 2, 3, 1),
                                                                (0, 0, 0, 2)]
    winners = k_winners(times, pot, k=5, radius=0)
    assert [(w.feature, w.time) for w in winners] == [(2, 0), (1, 1), (0, 1)]
