import runpy
from pathlib import Path

import pytest

from leanspike.registry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"

pytestmark = pytest.mark.lava


def test_quickstart_runs_the_pipeline_through_the_api(tmp_path, capsys):
    result = runpy.run_path(str(EXAMPLE))["main"](["--registry", str(tmp_path), "--quick"])
    final = result.stages[-1]
    assert final.T == 1 and final.sparsity >= 0.89 and final.lava_agreement >= 0.99
    out = capsys.readouterr().out
    assert "agreement with its snnTorch twin" in out and "@ann" in out
    lineage = Registry(tmp_path).lineage(final.entry)
    assert lineage[0].stage == "deployed-lava-fixed" and lineage[-1].stage == "ann"
