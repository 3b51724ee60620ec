"""Max pooling of spikes on Lava: a pooling population per pool, exact in float and fixed point,
streaming many samples (one more synaptic hop each), and in the netx file lava-dl loads."""

import multiprocessing
import warnings

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import SpecError
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.loihi.backends import LAVA_BACKENDS

pytestmark = pytest.mark.lava

BACKENDS = list(LAVA_BACKENDS)


def _inputs(spec, n=6, seed=2):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("timesteps", [1, 3])
def test_max_pooling_streams_exactly_on_every_backend(make_maxpool_spec, backend, timesteps,
                                                     agrees_on_lava):
    spec = make_maxpool_spec(timesteps=timesteps)
    got, want = agrees_on_lava(spec, backend, n=6, seed=2)
    assert got.spikes.keys() == {0, 1, 2, 3}  # every spike of every sample, pools included
    assert 0 < float(want.spikes[1].mean()) < 1
    # two pooling populations: two more hops than the three weighted layers
    assert len(to_stages(spec)) == 5 and got.steps == 6 * timesteps + 5


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_verify_agrees_spike_for_spike_with_max_pooling(make_maxpool_spec, backend):
    from leanspike.adapters.lava import verify

    spec = make_maxpool_spec(timesteps=2)
    report = verify(spec, _inputs(spec, n=4), backend=backend)
    assert report.agree, str(report)
    assert set(report.differing_spikes) == {0, 1, 2, 3}
    if backend == "lava-float":
        assert report.prediction_agreement == 1.0


def test_more_channels_than_lavas_int8_groups_hold(tmp_path):
    """A pool over 130 channels: Lava's Conv keeps groups in an int8, so the population is
    built with 65 groups of two channels (block-diagonal unit weights), still exact."""
    from leanspike.adapters.lava.runner import prepare, run

    g = torch.Generator().manual_seed(0)
    layers = [S.Conv2d(torch.randn(130, 1, 3, 3, generator=g), None, None,
                       S.LIF(threshold=0.5, reset="zero"), padding=(1, 1)),
              S.MaxPool2d((2, 2), (2, 2)), S.Flatten(),
              S.Linear(torch.randn(3, 130 * 4, generator=g) * 0.1, None, None, S.Integrator())]
    spec = S.NetworkSpec((1, 4, 4), layers, 2)
    x = _inputs(spec, n=3)
    deployed = prepare(spec, fixed=True, calibration=x)
    got = run(spec, x, "lava-fixed", deployed=deployed, record=True)
    want, raw = emulate_fixed(deployed.fixed, x)
    assert torch.equal(got.raw_output, raw) and torch.equal(got.spikes[1], want.spikes[1])
    assert 0 < float(want.spikes[1].mean()) < 1
    # and so does the netx file lava-dl loads
    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import write_netx

    path = write_netx(deployed.fixed, tmp_path / "wide.net")
    assert torch.equal(run_netx(path, x).raw_output, raw)


def test_max_pooling_of_the_input_is_refused_before_lava_starts(make_maxpool_spec):
    from leanspike.adapters.lava.runner import run

    spec = make_maxpool_spec()
    spec.layers.insert(0, S.MaxPool2d((1, 1), (1, 1)))
    with pytest.raises(SpecError, match=r"layers\[0\] \(MaxPool2d\): max pooling of the "
                                        r"network's analog input cannot be deployed"):
        run(spec, _inputs(spec), "lava-float")
    assert not multiprocessing.active_children()


def _netx_spec(make_maxpool_spec, timesteps):
    spec = make_maxpool_spec(timesteps=timesteps, reset="zero")
    spec.layers[0].neuron.v_init = 0.0  # netx neurons start at 0 (and reset to zero)
    return spec


@pytest.mark.parametrize("timesteps", [1, 2])
def test_netx_carries_max_pooling_as_a_grouped_conv_exactly(make_maxpool_spec, tmp_path,
                                                           timesteps):
    import h5py

    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import write_netx

    spec = _netx_spec(make_maxpool_spec, timesteps)
    x = _inputs(spec)
    net = quantize(to_stages(spec), x, timesteps=timesteps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing approximated: the pools are netx's own neuron
        path = write_netx(net, tmp_path / "pooled.net")
    with h5py.File(path) as f:
        pool = f["layer/2"]
        assert pool["type"][0] == b"conv" and int(pool["groups"][()]) == 4
        assert pool["weight"].shape == (4, 1, 2, 2) and int(pool["neuron/vThMant"][()]) == 127
    got = run_netx(path, x)
    _, raw = emulate_fixed(net, x)
    assert torch.equal(got.raw_output, raw)
    assert got.steps == len(x) * timesteps + 5
