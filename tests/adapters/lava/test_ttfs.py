"""An STDP-trained TTFS network deployed on Lava fires exactly when the torch model does."""

import dataclasses

import pytest
import torch

from leanspike.errors import ConfigError
from leanspike.stdp import NEVER, Pruning, STDPConfig, build_network, encode, train_layerwise
from leanspike.stdp.workflow import load_images

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def trained():
    """A small network learned briefly with heavy pruning, pointwise inhibition in both
    layers (the paths Lava must reproduce), and the encoded test images."""
    config = STDPConfig(channels=(4, 8), max_epochs=(1.0, 1.0), inhibition=(True, True),
                        double_every=10)
    x_tr, _, x_te, _ = load_images()
    net = build_network(tuple(x_tr.shape[1:]), config, seed=0)
    train_layerwise(net, encode(x_tr[:200], config), config.layer_training(),
                    Pruning(threshold=0.3, interval=10))
    return net, encode(x_te[:5], config)


def test_lava_first_spike_times_equal_torch(trained):
    from leanspike.adapters.lava.ttfs import run_ttfs, verify_ttfs

    net, x = trained
    assert any(c.connectivity < 1 for c in net.connectivity())  # pruned synapses deployed
    lava = run_ttfs(net, x)
    report = verify_ttfs(net, x, lava)
    assert report.exact, str(report)
    assert [t.shape for t in lava.times] == [t.shape for t in net.run(x).times]
    assert all(d["spikes"] > 0 for d in report.layers)
    assert int(((lava.times[0] < NEVER).sum(1)).max()) <= 1  # inhibition held on Lava
    assert "agrees with torch exactly" in str(report)


def test_a_changed_threshold_is_caught(trained):
    from leanspike.adapters.lava.ttfs import run_ttfs, verify_ttfs

    net, x = trained
    lava = run_ttfs(net, x[:2])
    changed = dataclasses.replace(net, layers=list(net.layers))
    conv = net.layers[0]
    changed.layers[0] = dataclasses.replace(conv, threshold=conv.threshold * 0.5,
                                            weight=conv.weight.clone(), mask=conv.mask.clone())
    report = verify_ttfs(changed, x[:2], lava)
    assert not report.exact and report.layers[0]["mismatched"] > 0


def test_wrong_input_shape_is_refused_before_lava_starts(trained):
    from leanspike.adapters.lava.ttfs import run_ttfs

    net, _ = trained
    with pytest.raises(ConfigError, match="expects"):
        run_ttfs(net, torch.zeros(2, 1, 7, 7, dtype=torch.int64))
