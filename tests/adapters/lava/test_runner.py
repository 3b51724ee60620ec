"""Lava networks built from specs agree with the spec's definition, spike for spike; the
fixed-point ones agree with their torch emulation bit for bit."""

import pytest

from leanspike.loihi.backends import LAVA_BACKENDS

pytestmark = pytest.mark.lava

BACKENDS = list(LAVA_BACKENDS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_network_t2(make_mlp_spec, backend, agrees_on_lava):
    agrees_on_lava(make_mlp_spec(timesteps=2), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("timesteps", [1, 2])
def test_conv_network_with_pooling_asymmetric_kernel_and_mask(make_conv_spec, backend,
                                                              timesteps, agrees_on_lava):
    spec = make_conv_spec(timesteps=timesteps, per_neuron=True)
    got, _ = agrees_on_lava(spec, backend)
    assert sum(c.sum() for c in got.spike_counts.values()) > 0


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_reset_to_zero_and_leak(make_conv_spec, backend, agrees_on_lava):
    agrees_on_lava(make_conv_spec(timesteps=3, reset="zero"), backend, n=3)
