import pytest
import torch

from leanspike.errors import ConfigError
from leanspike.stdp import NEVER, Pruning, STDPRule, apply_stdp, convergence, stdp_delta
from leanspike.stdp.layers import patch_times

A_PLUS, A_MINUS = 0.004, -0.003


def _dw(w: float, t_pre: int, t_post: int) -> float:
    return float(stdp_delta(torch.tensor([w], dtype=torch.float64), torch.tensor([t_pre]),
                            t_post, A_PLUS, A_MINUS)[0])


@pytest.mark.parametrize("t_pre, t_post, potentiates", [
    (2, 5, True),       # pre before post: causal, LTP
    (5, 5, True),       # same step counts as causal (t_pre <= t_post)
    (6, 5, False),      # pre after post: LTD
    (NEVER, 5, False),  # pre never fired: LTD
])
def test_sign_on_spike_pairs(t_pre, t_post, potentiates):
    dw = _dw(0.5, t_pre, t_post)
    assert (dw > 0) == potentiates and dw != 0
    assert dw == pytest.approx((A_PLUS if potentiates else A_MINUS) * 0.25)


def test_soft_bound_scales_with_w_one_minus_w():
    for t_pre in (1, 9):
        changes = {w: abs(_dw(w, t_pre, 4)) for w in (0.0, 0.1, 0.5, 0.9, 1.0)}
        assert changes[0.0] == changes[1.0] == 0.0
        assert changes[0.5] > changes[0.1] == pytest.approx(changes[0.9])
        assert changes[0.1] == pytest.approx(changes[0.5] * 0.09 / 0.25)


def test_weights_stay_inside_zero_one_under_repeated_updates():
    w = torch.full((4,), 0.5, dtype=torch.float64)
    for _ in range(100):
        w = w + stdp_delta(w, torch.tensor([0, 0, 9, 9]), 3, 0.15, -0.1125)
    assert bool((w[:2] < 1).all()) and bool((w[:2] > 0.99).all())
    assert bool((w[2:] > 0).all()) and bool((w[2:] < 0.01).all())


def test_rates_double_on_schedule_up_to_the_cap():
    rule = STDPRule(0.004, -0.003, a_plus_max=0.02, double_every=10)
    assert rule.rates(0) == (0.004, pytest.approx(-0.003))
    assert rule.rates(10) == (0.008, pytest.approx(-0.006))
    assert rule.rates(1000)[0] == 0.02
    with pytest.raises(ConfigError):
        STDPRule(a_plus=-0.1)


def test_pruned_and_padding_synapses_receive_no_update():
    weight = torch.full((1, 3, 3), 0.5, dtype=torch.float64)
    mask = torch.ones(1, 3, 3, dtype=torch.bool)
    mask[0, 1, 1] = False
    weight[0, 1, 1] = 0.0
    times = torch.zeros(1, 2, 2, dtype=torch.int64)       # every input fires at t=0
    padded = patch_times(times, 1)
    patch = padded[:, 0:3, 0:3]                            # top-left corner: 5 taps in padding
    before = weight.clone()
    n = apply_stdp(weight, mask, patch, t_post=2, a_plus=A_PLUS, a_minus=A_MINUS)
    changed = weight != before
    assert n == 3 and int(changed.sum()) == 3              # 4 real inputs, 1 of them pruned
    assert weight[0, 1, 1] == 0.0 and not changed[0, 0].any() and not changed[0, :, 0].any()
    assert bool((weight[changed] > 0.5).all())             # causal: all potentiated


def test_convergence_counts_pruned_synapses_as_settled():
    w = torch.tensor([0.0, 1.0, 0.5, 0.5], dtype=torch.float64)
    assert convergence(w) == pytest.approx(0.125)
    assert convergence(torch.tensor([0.0, 1.0])) == 0.0


def test_pruning_selects_live_weights_below_threshold():
    p = Pruning(threshold=0.2, interval=10)
    w = torch.tensor([0.1, 0.3, 0.0, 0.19])
    mask = torch.tensor([True, True, False, True])
    assert p.select(w, mask).tolist() == [True, False, False, True]
    assert p.due(20) and not p.due(25)
    assert not Pruning(threshold=0.0).due(10)
    with pytest.raises(ConfigError):
        Pruning(threshold=1.5)
