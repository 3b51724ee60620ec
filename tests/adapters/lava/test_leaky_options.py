"""snnTorch Leaky's other options on Lava: a leak per neuron (or per channel) and reset "none",
spike for spike in float, bit for bit in Loihi fixed point, and what netx can say of them."""

import warnings

import pytest
import torch

from leanspike.adapters.netx import NetxApproximationWarning, NetxExportError, write_netx
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.loihi.backends import LAVA_BACKENDS

pytestmark = pytest.mark.lava


def _options(spec):
    """Per-channel leaks on the first conv, per-neuron ones on the dense LIF layer and the
    output, and reset "none" on the second conv."""
    layers = [layer for _, layer in spec.weighted_layers()]
    layers[0].neuron.leak = torch.tensor([0.5, 0.75, 0.875, 1.0]).reshape(4, 1, 1).expand(
        4, 8, 8).clone()
    layers[1].neuron.reset = "none"
    g = torch.Generator().manual_seed(7)
    layers[2].neuron.leak = torch.rand(layers[2].weight.shape[0], generator=g) * 0.5 + 0.5
    layers[3].neuron.leak = torch.rand(layers[3].weight.shape[0], generator=g) * 0.5 + 0.5
    return spec.validate()


@pytest.mark.parametrize("backend", list(LAVA_BACKENDS))
def test_per_neuron_leaks_and_reset_none_stream_exactly(make_conv_spec, backend,
                                                       agrees_on_lava):
    spec = _options(make_conv_spec(timesteps=3, per_neuron=True))
    stages = to_stages(spec)
    assert isinstance(stages[0].leak, torch.Tensor) and stages[1].reset == "none"
    got, want = agrees_on_lava(spec, backend, n=5, seed=6)
    assert 0 < float(want.spikes[2].mean()) < 1  # the layer after reset "none" is alive


def test_a_uniform_leak_tensor_is_one_decay_per_layer(make_conv_spec):
    spec = make_conv_spec(timesteps=2)
    spec.layers[0].neuron.leak = torch.full((4, 8, 8), 0.75)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    net = quantize(to_stages(spec), x, timesteps=2)
    assert net.stages[0].dv == 1024 and net.report[0].dv == 1024


def test_netx_refuses_per_neuron_leaks_and_says_reset_none_becomes_zero(make_conv_spec,
                                                                       tmp_path):
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    spec = _options(make_conv_spec(timesteps=2))
    net = quantize(to_stages(spec), x, timesteps=2)
    target = tmp_path / "net.net"
    with pytest.raises(NetxExportError, match=r"layers\[0\].*per-neuron leaks"):
        write_netx(net, target)
    assert not target.exists()
    spec = make_conv_spec(timesteps=2)
    spec.layers[2].neuron.reset = "none"
    with pytest.warns(NetxApproximationWarning, match=r"layers\[2\]: reset 'none' becomes"):
        write_netx(quantize(to_stages(spec), x, timesteps=2), target)


def test_netx_is_exact_at_t1_with_reset_none(make_conv_spec, tmp_path):
    from leanspike.adapters.lava.netx_run import run_netx

    spec = make_conv_spec(timesteps=1)
    for _, layer in spec.weighted_layers():
        layer.neuron.v_init = 0.0
        if hasattr(layer.neuron, "reset"):
            layer.neuron.reset = "none"
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 2
    net = quantize(to_stages(spec), x, timesteps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_netx(net, tmp_path / "none.net")
    assert torch.equal(run_netx(path, x).raw_output, emulate_fixed(net, x)[1])
