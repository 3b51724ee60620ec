"""Lava networks built from specs agree with the spec's definition, spike for spike; the
fixed-point ones agree with their torch emulation bit for bit."""

import multiprocessing

import pytest
import torch

from leanspike.loihi import emulate_fixed, to_stages
from leanspike.reference import simulate

pytestmark = pytest.mark.lava

BACKENDS = ["lava-float", "lava-fast-float", "lava-fixed", "lava-fast-fixed"]


def _inputs(spec, n=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *spec.input_shape, generator=g) * 2.0


def _check(spec, backend, n=5):
    from leanspike.adapters.lava.runner import prepare, run

    x = _inputs(spec, n)
    fixed = "fixed" in backend
    deployed = prepare(spec, fixed=fixed, calibration=x)
    got = run(spec, x, backend, deployed=deployed, record=True)
    if fixed:
        want, raw = emulate_fixed(deployed.fixed, x)
        assert torch.equal(got.raw_output, raw)
    else:
        want = simulate(spec, x)
        assert torch.allclose(got.output, want.output, atol=1e-4, rtol=1e-5)
    assert got.spikes.keys() == want.spikes.keys()
    for i in want.spikes:
        assert torch.equal(got.spikes[i], want.spikes[i]), f"layer {i}"
        assert torch.equal(got.spike_counts[i], want.spikes[i].sum((0, 1)).to(torch.int64))
    assert got.steps == n * spec.timesteps + len(to_stages(spec))
    assert not multiprocessing.active_children()
    return got


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_network_t2(make_mlp_spec, backend):
    _check(make_mlp_spec(timesteps=2), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("timesteps", [1, 2])
def test_conv_network_with_pooling_asymmetric_kernel_and_mask(make_conv_spec, backend,
                                                              timesteps):
    spec = make_conv_spec(timesteps=timesteps, per_neuron=True)
    got = _check(spec, backend)
    assert sum(c.sum() for c in got.spike_counts.values()) > 0


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_reset_to_zero_and_leak(make_conv_spec, backend):
    _check(make_conv_spec(timesteps=3, reset="zero"), backend, n=3)
