"""NIR straight onto Lava: a file snnTorch's export_to_nir wrote runs through the Lava runner
with every spike equal to leanspike's own adoption of the model, float and fixed point."""

import warnings

import nir
import pytest
import torch

from leanspike.reference import simulate

from .conftest import export_snntorch, snntorch_model

pytestmark = pytest.mark.lava


def test_a_snntorch_nir_file_runs_on_lava_spike_for_spike(tmp_path):
    from leanspike.adapters.lava import prepare, run
    from leanspike.adapters.snntorch import adopt, to_spec
    from leanspike.loihi import emulate_fixed

    model = snntorch_model(reset="zero")
    path = tmp_path / "from_snntorch.nir"
    nir.write(path, export_snntorch(model, (1, 8, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adopted = to_spec(adopt(model, (1, 8, 8), 1, readout="spikes"))
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 2.0
    want = simulate(adopted, x)
    got = run(path, x, "lava-float", record=True)  # the path itself is the source
    for i, s in want.spikes.items():
        assert torch.equal(got.spikes[i], s), f"layer {i}"
    assert want.spikes[0].any()
    graph = nir.read(path)
    deployed = prepare(graph, fixed=True, calibration=x)  # so is the graph
    fixed = run(graph, x, "lava-fixed", deployed=deployed, record=True)
    emulated, raw = emulate_fixed(prepare(adopted, fixed=True, calibration=x).fixed, x)
    assert torch.equal(fixed.raw_output, raw)
    for i, s in emulated.spikes.items():
        assert torch.equal(fixed.spikes[i], s), f"layer {i}"
