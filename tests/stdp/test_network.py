import pytest
import torch

from leanspike.errors import SpecFileError
from leanspike.stdp import (
    NEVER,
    Pruning,
    Readout,
    STDPConfig,
    build_network,
    encode,
    load_ttfs,
    run_stdp,
    spike_features,
)
from leanspike.stdp.network import WEIGHTS_FILE


def _network():
    net = build_network((1, 8, 8), STDPConfig(channels=(4, 6)), seed=3)
    net.layers[0].prune(net.layers[0].weight < 0.8)
    return net


def _times(n=6):
    g = torch.Generator().manual_seed(2)
    return encode(torch.rand(n, 1, 8, 8, generator=g), STDPConfig())


def test_save_load_round_trip_runs_identically(tmp_path):
    net = _network()
    loaded = load_ttfs(net.save(tmp_path / "net"))
    assert torch.equal(loaded.layers[0].mask, net.layers[0].mask)
    a, b = net.run(_times()), loaded.run(_times())
    assert all(torch.equal(x, y) for x, y in zip(a.times, b.times)) and a.events == b.events
    assert loaded.encoding == net.encoding


def test_tampered_weights_are_refused(tmp_path):
    path = _network().save(tmp_path / "net")
    data = bytearray((path / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (path / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(SpecFileError, match="sha256"):
        load_ttfs(path)


def test_connectivity_and_events_follow_the_mask():
    net = _network()
    conn = net.connectivity()
    assert conn[0].alive == int(net.layers[0].mask.sum()) < conn[0].total
    assert conn[0].synapses_alive < conn[0].synapses_total and conn[1].connectivity == 1.0
    run = net.run(_times())
    assert run.events[1] == 0 and run.events[0] > 0         # pooling carries no learned synapse


def test_features_and_readout():
    t = torch.tensor([[0, 8, NEVER]])
    assert spike_features(t, 16).tolist() == [[1.0, 0.5, 0.0]]
    x = torch.rand(40, 3, dtype=torch.float64).numpy()
    y = (x[:, 0] > 0.5).astype(int)
    assert Readout("logistic", c=10.0).fit(x, y).accuracy(x, y) > 0.9


def test_run_stdp_end_to_end_small():
    config = STDPConfig(channels=(4, 6), max_epochs=(0.1, 0.1), pruning=Pruning(0.3, 10))
    result = run_stdp(config, seed=0)
    m = result.metrics()
    assert m["pruning"] and 0.3 < m["accuracy"] <= 1
    assert set(m["connectivity"]) == {"layers[0]", "layers[2]"}
    assert m["synaptic_updates"] > 0 and m["inference_synaptic_events"] > 0
