"""1-D signals and flat vectors on Lava: a Conv1d is Lava's 2-D Conv of height 1, a MaxPool1d of
spikes a pooling population, exact in float and fixed point, streamed, and in the netx file."""

import warnings

import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.loihi.backends import LAVA_BACKENDS

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("backend", list(LAVA_BACKENDS))
def test_a_1d_network_streams_exactly_on_every_backend(make_signal_spec, backend,
                                                      agrees_on_lava):
    spec = make_signal_spec(timesteps=3)
    got, want = agrees_on_lava(spec, backend, n=5, seed=3)
    assert got.spikes[0].shape == (3, 5, 4, 24)  # as the spec has them: (C, L)
    assert got.spikes.keys() == {0, 2, 3, 5}


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_a_flat_vector_network_without_flatten(backend, agrees_on_lava):
    g = torch.Generator().manual_seed(2)
    spec = S.NetworkSpec((13,), [
        S.Linear(torch.randn(16, 13, generator=g), torch.randn(16, generator=g) * 0.1, None,
                 S.LIF(threshold=0.5, leak=0.9)),
        S.Linear(torch.randn(2, 16, generator=g), None, None, S.Integrator())], 2)
    agrees_on_lava(spec, backend, n=6, seed=4)


def test_netx_carries_a_1d_network_exactly_at_t1(make_signal_spec, tmp_path):
    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import write_netx

    spec = make_signal_spec(timesteps=1)
    spec.layers[0].neuron.threshold = 0.75  # netx: one threshold per layer
    spec.layers[0].neuron.v_init = 0.0
    x = torch.rand(6, 2, 24, generator=torch.Generator().manual_seed(5)) * 2
    net = quantize(to_stages(spec), x, timesteps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_netx(net, tmp_path / "signal.net")
    assert torch.equal(run_netx(path, x).raw_output, emulate_fixed(net, x)[1])
