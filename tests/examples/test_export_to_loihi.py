import runpy
from pathlib import Path

import h5py
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "export_to_loihi.py"


@pytest.mark.lava
def test_registry_entry_becomes_a_netx_file_that_lava_dl_reproduces(tmp_path, capsys):
    path, same = runpy.run_path(str(EXAMPLE))["main"](
        ["--registry", str(tmp_path / "reg"), "--out", str(tmp_path / "out"), "--epochs", "3",
         "--check-samples", "8"])
    assert same == 1.0  # T=1: the netx file is exact
    with h5py.File(path) as f:
        assert "layer" in f and len(f["layer"]) >= 4
    assert "wrote" in capsys.readouterr().out


def test_unknown_reference_is_a_clear_error(tmp_path):  # needs no Lava: runs in .venv-modern too
    from leanspike.errors import LeanspikeError

    with pytest.raises(LeanspikeError, match="nope"):
        runpy.run_path(str(EXAMPLE))["main"](["nope", "--registry", str(tmp_path)])
