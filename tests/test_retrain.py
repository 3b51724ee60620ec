import pytest
import torch

from leanspike import spec as S
from leanspike.errors import ConfigError
from leanspike.registry import Registry
from leanspike.retrain import (
    SpikeVanishingWarning,
    StageResult,
    layer_activity,
    parse_schedule,
    run_schedule,
    warn_if_silent,
)


@pytest.mark.parametrize("text, steps", [("5,4,3,2,1", (5, 4, 3, 2, 1)), ("8, 4, 1", (8, 4, 1)),
                                         ([3], (3,))])
def test_good_schedules(text, steps):
    assert parse_schedule(text) == steps


@pytest.mark.parametrize("bad, pattern", [
    ("", "schedule is empty"), ([], "schedule is empty"),
    ("1,2,3", "strictly decrease"), ("5,5,4", "strictly decrease"),
    ("3,2,0", "positive integer"), ([2, -1], "positive integer"), ("5,x", "comma-separated"),
    ([2.5, 1], "positive integer"),
])
def test_bad_schedules_are_refused(bad, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_schedule(bad)


def test_silent_layers_raise_a_spike_vanishing_warning():
    activity = layer_activity({0: 0.8, 2: 0.0004, 4: 0.2}, timesteps=1)
    assert [a.silent for a in activity] == [False, True, False]
    with pytest.warns(SpikeVanishingWarning, match=r"layer\(s\) \[2\]"):
        assert warn_if_silent(activity, "T=1") == [2]


def _spec(T):
    layers = [S.Linear(torch.ones(2, 2), None, None, S.LIF()),
              S.Linear(torch.ones(1, 2), None, None, S.Integrator())]
    return S.NetworkSpec((2,), layers, T)


def test_run_schedule_registers_a_chain(tmp_path):
    reg = Registry(tmp_path)
    root = reg.register("m", _spec(5))
    seen = []

    def stage(T):
        seen.append(T)
        act = layer_activity({0: 0.5 * T}, T)
        return StageResult(T, 0.5, 0.9, 1.0, 2.0, 3.0, act, act, 1, 0.1, _spec(T))

    results = run_schedule("5,3,1", stage, registry=reg, name="m", parent=root,
                           params={"method": "iir"})
    assert seen == [5, 3, 1]
    assert [r.entry_ref for r in results] == ["m:2", "m:3", "m:4"]
    chain = reg.lineage("m")
    assert [(e.stage, e.timesteps) for e in chain] == [("retrained", 1), ("retrained", 3),
                                                      ("retrained", 5), ("snn", 5)]
    assert chain[0].params["schedule"] == [5, 3, 1] and chain[0].metrics["accuracy"] == 0.9
    assert "spec" not in results[0].as_dict()
