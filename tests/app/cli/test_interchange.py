"""``leanspike export`` / ``leanspike import``: NIR out and in through the registry, netx out,
and ``run-lava`` on a NIR file."""

import nir
import pytest
import torch

from leanspike import spec as S
from leanspike.adapters.nir import read_nir
from leanspike.registry import Registry


def _digits_spec(reset="zero", seed=0):
    g = torch.Generator().manual_seed(seed)
    return S.NetworkSpec((1, 8, 8), [
        S.Flatten(),
        S.Linear(torch.randn(16, 64, generator=g) * 0.2, torch.zeros(16), None,
                 S.LIF(threshold=0.5, leak=0.9, reset=reset)),
        S.Linear(torch.randn(10, 16, generator=g) * 0.3, None, None, S.Integrator()),
    ], timesteps=2)


def test_export_is_strict_by_default_and_lenient_on_request(cli, tmp_path):
    folder = _digits_spec(reset="subtract").save(tmp_path / "spec")
    out = tmp_path / "net.nir"
    code, _, err = cli("export", str(folder), "--format", "nir", "--out", str(out))
    assert code == 2 and r"layers[1] (Linear).neuron.reset: reset 'subtract'" in err
    assert "--lenient" in err and not out.exists()
    code, stdout, err = cli("export", str(folder), "--format", "nir", "--out", str(out),
                            "--lenient")
    assert code == 0, err
    assert "warning: layers[1] (Linear).neuron.reset" in err and "1 approximation" in stdout
    assert read_nir(out).identical(S.load_spec(folder))


def test_import_registers_a_root_entry_that_says_where_it_came_from(cli, tmp_path):
    reg_path = tmp_path / "reg"
    spec = _digits_spec()
    out = tmp_path / "from_elsewhere.nir"
    code, stdout, err = cli("export", str(spec.save(tmp_path / "spec")), "--format", "nir",
                            "--out", str(out))
    assert code == 0 and "(exact)" in stdout, err
    code, stdout, err = cli("import", str(out), "--registry", str(reg_path))
    assert code == 0, err
    assert "as from_elsewhere:1" in stdout and "T=2" in stdout
    entry = Registry(reg_path).get("from_elsewhere")
    assert entry.parent is None and entry.stage == "imported"
    assert entry.params["imported_from"] == str(out.resolve())
    assert entry.params["format"] == "nir" and entry.params["dt"] == 1e-4
    assert entry.params["nir_version"] == nir.__version__ and len(entry.params["sha256"]) == 64
    assert Registry(reg_path).load(entry).identical(spec)
    # and back out of the registry by reference
    again = tmp_path / "again.nir"
    code, _, err = cli("export", "from_elsewhere@imported", "--format", "nir", "--out",
                       str(again), "--registry", str(reg_path))
    assert code == 0, err
    assert read_nir(again).identical(spec)


def test_import_of_bad_files_fails_in_one_line(cli, tmp_path):
    bad = tmp_path / "broken.nir"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    code, _, err = cli("import", str(bad), "--registry", str(tmp_path / "reg"))
    assert code == 2 and "broken.nir: not a readable NIR file" in err
    assert err.count("\n") == 1
    graph = nir.NIRGraph.from_list(nir.Affine(weight=torch.ones(3, 64).numpy(),
                                              bias=torch.zeros(3).numpy()),
                                   nir.Threshold(threshold=torch.ones(3).numpy()))
    odd = tmp_path / "threshold.nir"
    nir.write(odd, graph)
    code, _, err = cli("import", str(odd), "--registry", str(tmp_path / "reg"), "--dt", "1")
    assert code == 2 and "'threshold' (Threshold): no leanspike equivalent" in err


def test_export_netx(cli, tmp_path):
    folder = _digits_spec().save(tmp_path / "spec")
    out = tmp_path / "net.net"
    code, stdout, err = cli("export", str(folder), "--format", "netx", "--out", str(out))
    assert code == 0, err
    assert out.is_file() and "as netx" in stdout


@pytest.mark.lava
def test_run_lava_on_a_nir_file(cli, tmp_path):
    out = tmp_path / "net.nir"
    assert cli("export", str(_digits_spec().save(tmp_path / "spec")), "--format", "nir",
               "--out", str(out))[0] == 0
    code, stdout, err = cli("run-lava", str(out), "--limit", "6")
    assert code == 0, err
    rows = dict(line.rsplit(None, 1) for line in stdout.splitlines()[2:12])
    assert rows["network"].strip() == str(out) and rows["test samples"].strip() == "6"
    assert rows["agreement with snnTorch"].strip() == "100.00%"
    assert rows["spike counts equal to snnTorch's"].strip() == "yes"
