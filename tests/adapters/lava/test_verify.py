"""verify() says a faithful deployment agrees, and points at the first broken spike."""

import pytest
import torch

from leanspike.adapters.snntorch import to_snntorch

pytestmark = pytest.mark.lava


def _x(spec, n=4):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(5)) * 2


@pytest.mark.parametrize("backend", ["lava-float", "lava-fast-fixed"])
def test_verify_agrees_on_a_faithful_deployment(make_conv_spec, backend):
    from leanspike.adapters.lava import verify

    spec = make_conv_spec(timesteps=2)
    report = verify(spec, _x(spec), backend=backend)
    assert report.agree and report.first_divergence is None
    assert set(report.differing_spikes.values()) == {0}
    assert "every spike agrees" in str(report)
    if backend == "lava-float":
        assert report.prediction_agreement == 1.0
        assert report.max_output_error < 1e-4


def test_verify_points_at_the_first_diverging_layer_step_and_neuron(make_conv_spec):
    """A snnTorch model whose layer-2 threshold was nudged for one neuron after export."""
    from leanspike.adapters.lava import verify

    spec = make_conv_spec(timesteps=3, per_neuron=True)
    x = _x(spec)
    twin = make_conv_spec(timesteps=3, per_neuron=True)
    reference = to_snntorch(spec).run(x).spikes[2].bool()
    t, b, c, h, w = (int(v) for v in reference.nonzero()[0])  # a neuron that spikes
    twin.layers[2].neuron.threshold[c, h, w] = 1e3  # silent in the twin
    report = verify(spec, x, snn=to_snntorch(twin))
    d = report.first_divergence
    assert not report.agree
    assert (d.layer, d.step) == (2, t + 1)
    assert d.expected is False and d.got is True
    assert "layers[2]" in str(report)
