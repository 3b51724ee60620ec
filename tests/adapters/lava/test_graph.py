"""Residual networks on Lava: several synapse processes into one population, relay
populations on the shortcut, and every spike of many streamed samples as the reference's."""

import pytest
import torch

from leanspike.zoo.residual import sew_resnet

pytestmark = pytest.mark.lava

BACKENDS = ["lava-float", "lava-fast-float", "lava-fixed", "lava-fast-fixed"]


def _spec(style):
    return sew_resnet(num_classes=10, input_shape=(1, 8, 8), widths=(4, 8), blocks_per_stage=1,
                      timesteps=2, style=style, threshold=0.5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("style", ["sew", "current"])
def test_every_spike_of_streamed_samples_agrees_with_the_reference(style, backend):
    """Samples follow each other without a gap, so a shortcut misaligned by one hop would mix
    one sample's spikes into the next sample's sum: 24 samples in one run make that show."""
    from leanspike.adapters.lava import verify

    spec = _spec(style)
    x = torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    report = verify(spec, x, backend=backend)
    assert report.agree, str(report)
    assert sorted(report.lava.spike_counts) == sorted(i for i in spec.spiking_layers())
    for i, counts in report.lava.spike_counts.items():
        assert counts.sum() > 0, i  # every layer active: agreement means something
    if "float" in backend:
        assert report.prediction_agreement == 1.0
        assert report.max_output_error < 1e-4
    else:
        assert report.max_output_error == 0.0  # bit-exact with the fixed-point emulation


def test_a_misaligned_shortcut_would_be_seen():
    """Without relays the shortcut's spikes reach the sum a hop early: the run differs."""
    from leanspike.adapters.lava import prepare, run
    from leanspike.loihi.emulate import emulate_float

    spec = _spec("current")
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    deployed = prepare(spec)
    relays = [k for k, st in enumerate(deployed.stages) if st.relay]
    assert relays
    # point every group that reads a relay at the relay's own source instead
    for st in deployed.stages:
        for g in st.extra_synapses:
            while deployed.stages[g.source].relay:
                g.source = deployed.stages[g.source].source
        while st.source is not None and st.source >= 0 and deployed.stages[st.source].relay:
            st.source = deployed.stages[st.source].source
    want = emulate_float(deployed.stages, x, spec.timesteps)
    got = run(spec, x, "lava-fast-float", deployed=deployed, record=True)
    assert any(not torch.equal(got.spikes[i], want.spikes[i]) for i in want.spikes)


def test_netx_refuses_a_residual_network_and_writes_nothing(tmp_path):
    from leanspike.adapters.netx import NetxExportError, write_netx
    from leanspike.loihi import quantize, to_stages

    spec = _spec("sew")
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    net = quantize(to_stages(spec), x, timesteps=spec.timesteps)
    path = tmp_path / "net.net"
    with pytest.raises(NetxExportError, match=r"layers\[\d+\]: a residual join.*chain of "
                                              r"blocks.*lava-fixed"):
        write_netx(net, path)
    assert not path.exists()
