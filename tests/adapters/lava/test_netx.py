"""The netx HDF5 file loads in lava-dl's own Network and, run in Lava, gives the same output
as the fixed-point network it was written from (exactly at T = 1)."""

import warnings

import h5py
import pytest
import torch

from leanspike.adapters.netx import NetxApproximationWarning, NetxExportError, write_netx
from leanspike.loihi import emulate_fixed, quantize, to_stages

pytestmark = pytest.mark.lava


def _fixed(spec, n=6):
    x = torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(3)) * 2
    return quantize(to_stages(spec), x, timesteps=spec.timesteps), x


@pytest.mark.parametrize("leak", [1.0, 0.875])
def test_netx_is_exact_at_t1_for_a_conv_network_with_pooling(make_conv_spec, tmp_path, leak):
    from leanspike.adapters.lava.netx_run import run_netx

    spec = make_conv_spec(timesteps=1)
    for _, layer in spec.weighted_layers():
        layer.neuron.leak = leak
        layer.neuron.v_init = 0.3  # decays to whole bias mantissas (fx.initial_potential)
    net, x = _fixed(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_netx(net, tmp_path / "net.net")
    got = run_netx(path, x)
    _, raw = emulate_fixed(net, x)
    assert torch.equal(got.raw_output, raw)


def test_netx_is_exact_at_t1_for_a_masked_mlp(make_mlp_spec, tmp_path):
    from leanspike.adapters.lava.netx_run import run_netx

    spec = make_mlp_spec(timesteps=1, sizes=(12, 30, 20, 5))
    spec.layers[1].mask = (torch.rand(20, 30, generator=torch.Generator().manual_seed(0))
                           > 0.7).float()
    net, x = _fixed(spec)
    path = write_netx(net, tmp_path / "mlp.net")
    with h5py.File(path) as f:
        assert list(f["layer"].keys()) == ["0", "1", "2", "3"]
        assert (f["layer/2/weight"][()] == 0).mean() > 0.6
    got = run_netx(path, x)
    _, raw = emulate_fixed(net, x)
    assert torch.equal(got.raw_output, raw)


def test_netx_says_what_it_approximates_at_t2(make_conv_spec, tmp_path):
    net, _ = _fixed(make_conv_spec(timesteps=2))
    with pytest.warns(NetxApproximationWarning, match="reset by subtraction"):
        write_netx(net, tmp_path / "t2.net")


def test_netx_refuses_per_neuron_thresholds_and_keeps_the_old_file(make_conv_spec, tmp_path):
    target = tmp_path / "keep.net"
    target.write_bytes(b"old")
    net, _ = _fixed(make_conv_spec(timesteps=1, per_neuron=True))
    with pytest.raises(NetxExportError, match=r"layers\[0\].*per-neuron thresholds"):
        write_netx(net, target)
    assert target.read_bytes() == b"old"
