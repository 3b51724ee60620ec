"""leanspike deploy / run-lava on a saved spec and on a registry entry."""

import json

import pytest

from leanspike.registry import Registry

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("backend", ["lava-fast-fixed", "netx"])
def test_run_lava_prints_accuracy_agreement_speed_and_spikes(cli, make_conv_spec, tmp_path,
                                                             backend):
    folder = make_conv_spec(timesteps=1).save(tmp_path / "spec")
    code, out, err = cli("run-lava", str(folder), "--dataset", "digits", "--limit", "12",
                         "--backend", backend)
    assert code == 0, err
    for text in ("accuracy", "agreement with snnTorch", "samples/s", "test samples"):
        assert text in out
    if backend != "netx":
        assert "layers[0]" in out and "spike counts equal to snnTorch's" in out


def test_deploy_float_verifies_and_registers(cli, make_conv_spec, tmp_path):
    reg = Registry(tmp_path / "reg")
    parent = reg.register("tiny", make_conv_spec(timesteps=2), stage="snn",
                          params={"dataset": "digits"})
    code, out, err = cli("deploy", parent.ref, "--registry", str(tmp_path / "reg"),
                         "--backend", "lava-float", "--out", str(tmp_path / "dep"),
                         "--verify-samples", "6")
    assert code == 0, err
    assert "every spike agrees" in out
    record = json.loads((tmp_path / "dep" / "deployment.json").read_text())
    assert record["verification"]["agree"] is True
    child = reg.get("tiny@deployed-lava-float")
    assert reg.lineage(child)[-1].ref == parent.ref or reg.lineage(child)[0].ref == parent.ref


def test_deploy_netx_writes_a_file_lava_dl_reproduces(cli, make_conv_spec, tmp_path):
    spec = make_conv_spec(timesteps=1)
    for _, layer in spec.weighted_layers():
        layer.neuron.leak = 1.0  # a decayed initial potential need not be a whole bias mantissa
    folder = spec.save(tmp_path / "spec")
    code, out, err = cli("deploy", str(folder), "--dataset", "digits", "--backend", "netx",
                         "--out", str(tmp_path / "dep"), "--verify-samples", "6")
    assert code == 0, err
    record = json.loads((tmp_path / "dep" / "deployment.json").read_text())
    assert record["netx"]["exact"] and record["netx"]["agreement_with_fixed_point"] == 1.0
    assert (tmp_path / "dep" / "network.net").is_file()
    assert "weight unit" in out


def test_run_lava_on_a_spec_that_does_not_fit_the_dataset_fails_clearly(cli, make_mlp_spec,
                                                                         tmp_path):
    folder = make_mlp_spec().save(tmp_path / "spec")
    code, out, err = cli("run-lava", str(folder), "--dataset", "digits", "--limit", "4")
    assert code == 2
    assert "input shape" in err
