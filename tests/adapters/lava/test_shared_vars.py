"""What a Lava run reads back (outputs, spike counts, recorded spikes) comes through memory the
forked workers share with the parent, not Lava's one-value-per-message Var.get; where a worker
keeps Lava's own arrays the runner reads through Lava. The single-process fixed-point model
leaves out the 24-bit wraps its bounds prove to be the identity, and keeps them where the
current can outgrow 24 bits."""

import dataclasses

import numpy as np
import pytest
import torch

from leanspike import spec as S

pytestmark = pytest.mark.lava


def test_table_adopts_only_the_planned_array():
    from leanspike.adapters.lava.procs.shared import SharedVars

    with SharedVars({"a": ((2, 3), np.int64), "b": ((4,), bool)}) as table:
        assert table.read("a") is None and table.read("b") is None
        mine = np.arange(6, dtype=np.int64).reshape(2, 3)
        shared = table.adopt("a", mine)
        assert shared is not mine and np.array_equal(shared, mine)
        shared[1, 2] = 40
        assert table.read("a")[1, 2] == 40
        wrong = np.zeros(4, dtype=np.int32)  # not the planned dtype: kept as it is
        assert table.adopt("b", wrong) is wrong and table.read("b") is None
        assert table.adopt("c", mine) is mine


@pytest.mark.parametrize("backend", ["lava-fast-fixed", "lava-fast-float", "lava-fixed"])
def test_results_come_back_without_var_get(make_conv_spec, backend, monkeypatch,
                                           agrees_on_lava):
    from lava.magma.runtime.runtime import Runtime

    def refuse(*args, **kwargs):
        raise AssertionError("read through Lava's Var.get")

    monkeypatch.setattr(Runtime, "get_var", refuse)
    agrees_on_lava(make_conv_spec(timesteps=2), backend, n=3)


def test_workers_that_keep_lavas_arrays_are_read_through_lava(make_conv_spec, monkeypatch,
                                                              agrees_on_lava):
    from lava.magma.runtime.runtime import Runtime

    import leanspike.adapters.lava.procs.models as models

    reads = []
    get_var = Runtime.get_var
    monkeypatch.setattr(models, "adopt_vars", lambda model, names: None)
    monkeypatch.setattr(Runtime, "get_var",
                        lambda self, *a, **k: reads.append(1) or get_var(self, *a, **k))
    agrees_on_lava(make_conv_spec(timesteps=1), "lava-fast-fixed", n=3)
    assert reads


def _big_current_mlp(timesteps: int = 1) -> S.NetworkSpec:
    """64 inputs into 4 neurons with large weights of one sign: at 8-bit input the first
    stage's current, shifted into v units, outgrows 24 bits."""
    g = torch.Generator().manual_seed(3)
    w1 = torch.rand(4, 64, generator=g) + 0.5
    w2 = torch.randn(3, 4, generator=g)
    layers = [S.Linear(w1, None, None, S.LIF(threshold=30.0)),
              S.Linear(w2, None, None, S.Integrator())]
    return S.NetworkSpec((64,), layers, timesteps)


def test_fast_fixed_keeps_the_wrap_where_the_current_outgrows_24_bits(agrees_on_lava):
    from leanspike.adapters.lava.procs.models import WRAP_FREE, _fixed_synapse
    from leanspike.adapters.lava.runner import prepare, run
    from leanspike.loihi import emulate_fixed
    from leanspike.loihi.fixed_point import ACT_SHIFT

    spec = _big_current_mlp()
    x = torch.ones(6, 64) * 2.0
    x[::2] *= torch.linspace(0.2, 1.0, 64)
    net = prepare(spec, fixed=True, calibration=x).fixed
    # the quantiser keeps the calibration's currents within 24 bits: a larger weight exponent
    # (the same integers for Lava and the emulation) makes them outgrow it
    first = dataclasses.replace(net.stages[0], weight_exp=net.stages[0].weight_exp + 4)
    net = dataclasses.replace(net, stages=[first, *net.stages[1:]])
    deployed = prepare(spec, fixed=True, fixed_network=net)
    fs = deployed.fixed.stages[0]
    (group, weight), = fs.synapse_groups(0)
    top = (1 << (deployed.fixed.input_bits - 1)) - 1
    _, bound = _fixed_synapse(group, weight, top)
    assert bound * (1 << ACT_SHIFT) > WRAP_FREE  # the wrap stays
    # and it matters: some sample's current does outgrow 24 bits
    a = deployed.fixed.quantize_input(x) @ weight.t().to(torch.int64)
    assert bool(((a << ACT_SHIFT).abs() > WRAP_FREE).any())
    got = run(spec, x, "lava-fast-fixed", deployed=deployed)
    assert torch.equal(got.raw_output, emulate_fixed(deployed.fixed, x)[1])
