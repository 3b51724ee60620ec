"""A spiking readout on Lava: the output layer's spikes counted per sample's window, exact in
float (the reference's output, bit for bit) and in fixed point (the emulation's integer counts),
streaming several samples on every back-end; verify agrees; the netx file lava-dl loads counts
them too."""

import dataclasses
import multiprocessing
import warnings

import h5py
import pytest
import torch

from leanspike import spec as S
from leanspike.loihi import emulate_fixed, quantize, to_stages
from leanspike.reference import simulate

pytestmark = pytest.mark.lava

BACKENDS = ["lava-float", "lava-fast-float", "lava-fixed", "lava-fast-fixed"]
AMPLITUDE = 0.37


def _spiking_readout(spec, threshold=0.3, amplitude=AMPLITUDE, reset="subtract"):
    """The same network read by the spike count of a LIF output layer."""
    last = spec.layers[-1]
    spec.layers[-1] = dataclasses.replace(
        last, neuron=S.LIF(threshold=threshold, amplitude=amplitude, reset=reset))
    return spec.validate()


def _inputs(spec, n=6, seed=2):
    return torch.rand(n, *spec.input_shape, generator=torch.Generator().manual_seed(seed)) * 2


def _spec(which, make_mlp_spec, make_maxpool_spec, timesteps):
    if which == "mlp":
        return _spiking_readout(make_mlp_spec(timesteps=timesteps, sizes=(12, 20, 5)))
    return _spiking_readout(make_maxpool_spec(timesteps=timesteps))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("timesteps", [1, 3])
@pytest.mark.parametrize("which", ["mlp", "maxpool"])
def test_a_spiking_readout_streams_exactly_on_every_backend(make_mlp_spec, make_maxpool_spec,
                                                            which, backend, timesteps):
    from leanspike.adapters.lava.runner import prepare, run

    spec = _spec(which, make_mlp_spec, make_maxpool_spec, timesteps)
    x = _inputs(spec)
    fixed = "fixed" in backend
    deployed = prepare(spec, fixed=fixed, calibration=x)
    got = run(spec, x, backend, deployed=deployed, record=True)
    last = len(spec.layers) - 1
    if fixed:
        want, raw = emulate_fixed(deployed.fixed, x)
        assert got.raw_output.dtype == torch.int64 and torch.equal(got.raw_output, raw)
        assert torch.equal(raw, want.spikes[last].sum(0).to(torch.int64))
    else:
        want = simulate(spec, x)
        assert got.raw_output is None
    assert torch.equal(got.output, want.output)  # counts times the amplitude, bit for bit
    assert torch.equal(got.predictions, want.output.argmax(1))
    assert got.spikes.keys() == want.spikes.keys() and last in want.spikes
    for i in want.spikes:  # every spike of every sample, the readout's included
        assert torch.equal(got.spikes[i], want.spikes[i]), f"layer {i}"
        assert torch.equal(got.spike_counts[i], want.spikes[i].sum((0, 1)).to(torch.int64))
    counts = want.spikes[last].sum(0)
    assert 0 < float(counts.mean()) < timesteps
    assert got.steps == len(x) * timesteps + len(to_stages(spec))
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("backend", ["lava-float", "lava-fixed"])
def test_verify_agrees_spike_for_spike_and_output_for_output(make_maxpool_spec, backend):
    from leanspike.adapters.lava import verify

    spec = _spiking_readout(make_maxpool_spec(timesteps=2))
    report = verify(spec, _inputs(spec, n=4), backend=backend)
    assert report.agree, str(report)
    assert set(report.differing_spikes) == {0, 1, 2, 3, 5}
    assert report.max_output_error == 0.0
    if backend == "lava-float":
        assert report.prediction_agreement == 1.0


def _netx_spec(make_maxpool_spec, timesteps):
    """What netx's neuron says exactly at any T: reset to zero, starting at 0."""
    spec = _spiking_readout(make_maxpool_spec(timesteps=timesteps, reset="zero"), reset="zero")
    spec.layers[0].neuron.v_init = 0.0
    return spec


@pytest.mark.parametrize("timesteps", [1, 3])
def test_netx_counts_a_spiking_readout_exactly(make_maxpool_spec, tmp_path, timesteps):
    """lava-dl's own Network from the file: its output layer is a CUBA layer that spikes, and
    its spikes counted per window are the fixed-point network's counts."""
    from leanspike.adapters.lava.netx_run import run_netx
    from leanspike.adapters.netx import READOUT_SPIKES, write_netx

    spec = _netx_spec(make_maxpool_spec, timesteps)
    x = _inputs(spec)
    net = quantize(to_stages(spec), x, timesteps=timesteps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing approximated
        path = write_netx(net, tmp_path / "counts.net")
    with h5py.File(path) as f:
        assert f.attrs["readout"] == READOUT_SPIKES
        assert f.attrs["output_scale"] == AMPLITUDE
        assert int(f["layer/6/neuron/vThMant"][()]) == int(net.stages[-1].vth.flatten()[0])
    got = run_netx(path, x)
    want, raw = emulate_fixed(net, x)
    assert torch.equal(got.raw_output, raw) and 0 < float(raw.float().mean()) < timesteps
    assert torch.equal(got.output, want.output)
    assert got.steps == len(x) * timesteps + 5
    assert not multiprocessing.active_children()


def test_netx_file_of_an_integrating_output_says_potential(make_maxpool_spec, tmp_path):
    from leanspike.adapters.netx import READOUT_POTENTIAL, write_netx

    spec = make_maxpool_spec(timesteps=1)
    spec.layers[0].neuron.v_init = 0.0  # exact: no approximation warning
    net = quantize(to_stages(spec), _inputs(spec), timesteps=1)
    with h5py.File(write_netx(net, tmp_path / "v.net")) as f:
        assert f.attrs["readout"] == READOUT_POTENTIAL
        assert f.attrs["output_scale"] == net.stages[-1].unit / 64


def _digits_spec(make_conv_spec, timesteps=1):
    """A conv spec that fits the digits, read by spike counts, netx-exact at T = 1."""
    spec = _spiking_readout(make_conv_spec(timesteps=timesteps))
    for _, layer in spec.weighted_layers():
        layer.neuron.leak = 1.0  # a decayed initial potential need not be a whole bias mantissa
    return spec


def test_run_lava_and_deploy_read_a_spiking_readout(cli, make_conv_spec, tmp_path):
    import json

    folder = _digits_spec(make_conv_spec).save(tmp_path / "spec")
    code, out, err = cli("run-lava", str(folder), "--dataset", "digits", "--limit", "8",
                         "--backend", "lava-fast-float")
    assert code == 0, err
    assert "layers[5]" in out  # the readout's spikes are counted like any layer's
    assert "spike counts equal to snnTorch's yes" in " ".join(out.split())
    for backend in ("lava-fixed", "netx"):
        dep = tmp_path / f"dep-{backend}"
        code, out, err = cli("deploy", str(folder), "--dataset", "digits", "--backend", backend,
                             "--out", str(dep), "--verify-samples", "6")
        assert code == 0, err
        record = json.loads((dep / "deployment.json").read_text())
        assert record["readout"] == "spike count"
        assert record["fixed_point"]["output_scale"] == AMPLITUDE
        if backend == "netx":
            assert record["netx"]["exact"]
            assert record["netx"]["agreement_with_fixed_point"] == 1.0
        else:
            assert "every spike agrees" in out
            assert record["verification"]["agree"] is True
            assert record["verification"]["max_output_error"] == 0.0


def test_the_pipelines_deployment_of_a_spiking_readout_agrees_with_its_emulation(
        make_conv_spec):
    """What ``leanspike pipeline`` does after training: snap, run on Lava, compare the raw
    output (the counts) with the emulation's and the predictions with the snnTorch twin's
    (which can differ on a tie: the first layer's input offset is approximate in the twin)."""
    from leanspike.app.pipeline.config import DeployConfig, PipelineConfig
    from leanspike.app.pipeline.run import _deploy, _stack
    from leanspike.data import load_dataset
    from leanspike.loihi import snap_to_fixed_point

    spec = _digits_spec(make_conv_spec, timesteps=2)
    splits = load_dataset("digits")
    x_train, _ = _stack(splits.train)
    snapped, _ = snap_to_fixed_point(spec, x_train)
    config = PipelineConfig(deploy=DeployConfig(backend="lava-fast-fixed", limit=12)).validate()
    deployed, metrics, params = _deploy(snapped, spec, splits, x_train, config, lambda _: None)
    assert deployed is snapped and params["backend"] == "lava-fast-fixed"
    assert metrics["test_samples"] == 12
    assert metrics["emulation_agreement"] == 1.0
    assert metrics["lava_agreement"] >= 0.9
    assert "5" in metrics["spikes_per_neuron"]  # the readout's own spikes
