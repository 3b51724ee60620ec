"""Current-based neurons (the spec's current_leak, snnTorch's Synaptic) on Lava: a current state
in every SpecNeuron, exact in float (spike for spike with the reference) and in Loihi fixed point
(bit for bit with the emulation, and with Lava's own LIF where the two neurons coincide), over
streamed samples whose currents must start afresh, and in the netx file lava-dl loads."""

import warnings

import numpy as np
import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.backends import LAVA_BACKENDS
from leanspike.reference import simulate

pytestmark = pytest.mark.lava


def _synaptic(spec, leaks=(0.5, 0.75, 0.25, 0.625)):
    """Every weighted layer current-based, each with its own current decay (the output too)."""
    for (_, layer), leak in zip(spec.weighted_layers(), leaks):
        layer.neuron.current_leak = leak
    return spec


@pytest.mark.parametrize("backend", list(LAVA_BACKENDS))
def test_current_based_layers_stream_exactly_on_every_backend(make_conv_spec, backend,
                                                             agrees_on_lava):
    spec = _synaptic(make_conv_spec(timesteps=3))
    agrees_on_lava(spec, backend, n=5, seed=4)


def test_the_current_changes_what_the_network_does(make_conv_spec):
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 2
    plain, current = simulate(make_conv_spec(timesteps=3), x), \
        simulate(_synaptic(make_conv_spec(timesteps=3)), x)
    assert any(not torch.equal(plain.spikes[i], current.spikes[i]) for i in plain.spikes)


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_a_current_based_mlp_with_biases_and_max_pooling(make_maxpool_spec, backend,
                                                         agrees_on_lava):
    spec = make_maxpool_spec(timesteps=4)
    for _, layer in spec.weighted_layers():
        layer.neuron.current_leak = 0.875
    agrees_on_lava(spec, backend, n=4, seed=5)


def test_the_fixed_point_current_is_lavas_own_lif_where_they_coincide():
    """Without a bias (which the spec adds to the current, Lava's LIF to v) and with reset to
    zero, leanspike's fixed-point neuron is Lava's bit-accurate LIF with du: same v every step."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    steps, du, dv, vth = 12, 1024, 512, 300
    rng = np.random.default_rng(0)
    spikes_in = (rng.random((4, steps)) < 0.5).astype(np.int32)
    weights = rng.integers(-60, 120, size=(3, 4)) * 2  # Lava stores 2m
    src = RingBuffer(data=spikes_in)
    dense = Dense(weights=weights, num_message_bits=0)
    lif = LIF(shape=(3,), du=du - 1, dv=dv, vth=vth, bias_mant=0)  # Lava adds 1 to du
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    monitor_v, monitor_u = Monitor(), Monitor()
    monitor_v.probe(lif.v, steps)
    monitor_u.probe(lif.u, steps)
    try:
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        lava_v = monitor_v.get_data()[lif.name]["v"]
        lava_u = monitor_u.get_data()[lif.name]["u"]
    finally:
        lif.stop()
    v = torch.zeros(3, dtype=torch.int64)
    u = torch.zeros(3, dtype=torch.int64)
    a = torch.zeros(3, dtype=torch.int64)  # Dense delivers the previous step's input
    ours_v, ours_u = [], []
    for t in range(steps):
        v, u, _ = fx.lif_fixed(v, u, a, torch.zeros(3, dtype=torch.int64), du, dv,
                               torch.full((3,), vth), "zero")
        ours_v.append(v.tolist())
        ours_u.append(u.tolist())
        a = torch.from_numpy(weights @ spikes_in[:, t]).to(torch.int64)
    assert np.array_equal(lava_u, np.array(ours_u))
    assert np.array_equal(lava_v, np.array(ours_v))
    assert len(set(map(tuple, ours_u))) > 3  # the current carried something


def test_netx_carries_the_current_decay_exactly_at_t1(make_conv_spec, tmp_path):
    import h5py

    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import write_netx

    spec = _synaptic(make_conv_spec(timesteps=1))
    for _, layer in spec.weighted_layers():
        layer.neuron.v_init = 0.0  # a decayed v_init need not be a whole bias mantissa
    x = torch.rand(6, *spec.input_shape, generator=torch.Generator().manual_seed(3)) * 2
    net = quantize(to_stages(spec), x, timesteps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_netx(net, tmp_path / "synaptic.net")
    with h5py.File(path) as f:
        decays = [int(f[f"layer/{k}/neuron/iDecay"][()]) for k in f["layer"]
                  if "neuron" in f[f"layer/{k}"]]
    assert decays == [fs.du for fs in net.stages] and decays[0] == 2048
    assert torch.equal(run_netx(path, x).raw_output, emulate_fixed(net, x)[1])


def test_netx_says_a_biased_current_is_approximated_at_t2(make_conv_spec, tmp_path):
    from leanspike.adapters.netx import NetxApproximationWarning, write_netx

    spec = _synaptic(make_conv_spec(timesteps=2, reset="zero"))
    for _, layer in spec.weighted_layers():
        layer.neuron.v_init = 0.0
    x = torch.rand(4, *spec.input_shape, generator=torch.Generator().manual_seed(3)) * 2
    net = quantize(to_stages(spec), x, timesteps=2)
    with pytest.warns(NetxApproximationWarning, match=r"layers\[0\]: the bias of a current"):
        write_netx(net, tmp_path / "t2.net")


def test_a_current_decay_off_loihis_grid_saturates_to_the_nearest():
    spec = S.NetworkSpec((4,), [S.Linear(torch.ones(3, 4), None, None,
                                         S.LIF(current_leak=1e-5)),
                                S.Linear(torch.ones(2, 3), None, None, S.Integrator())], 2)
    assert quantize(to_stages(spec), input_range=1.0, timesteps=2).stages[0].du == 4095
    spec.layers[0].neuron.current_leak = 1.0  # a current that never decays: du would be 0
    assert quantize(to_stages(spec), input_range=1.0, timesteps=2).stages[0].du == 1
