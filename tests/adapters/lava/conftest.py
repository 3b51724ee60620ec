"""What the Lava tests share: random inputs for a spec, and the check that a Lava run agrees
with the spec's definition spike for spike (float) or with its emulation bit for bit (fixed)."""

import multiprocessing

import pytest
import torch

from leanspike.loihi import emulate_fixed, to_stages
from leanspike.reference import simulate


def random_inputs(spec, n=5, seed=1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *spec.input_shape, generator=g) * 2.0


@pytest.fixture
def agrees_on_lava():
    """agrees_on_lava(spec, backend, n=5, seed=1) -> (LavaRun, the reference's result): every
    spike of every layer equal, the output equal (float) or bit-equal to the emulation (fixed),
    one Lava step per sample step plus one per stage, and no worker process left."""

    def check(spec, backend, n=5, seed=1):
        from leanspike.adapters.lava.runner import prepare, run

        x = random_inputs(spec, n, seed)
        fixed = "fixed" in backend
        deployed = prepare(spec, fixed=fixed, calibration=x)
        got = run(spec, x, backend, deployed=deployed, record=True)
        if fixed:
            want, raw = emulate_fixed(deployed.fixed, x)
            assert torch.equal(got.raw_output, raw)
        else:
            want = simulate(spec, x)
            assert torch.allclose(got.output, want.output, atol=1e-4, rtol=1e-5)
        assert got.spikes.keys() == want.spikes.keys()
        for i in want.spikes:
            assert torch.equal(got.spikes[i], want.spikes[i]), f"layer {i}"
            assert torch.equal(got.spike_counts[i], want.spikes[i].sum((0, 1)).to(torch.int64))
        assert got.steps == n * spec.timesteps + len(to_stages(spec))
        assert not multiprocessing.active_children()
        return got, want

    return check
