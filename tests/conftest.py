"""Shared fixtures, and the --no-skips rule: in the project's own environment every test runs."""

from __future__ import annotations

import pytest
import torch

from leanspike import spec as S

pytest_plugins = ["pytester"]


def pytest_addoption(parser):
    parser.addoption("--no-skips", action="store_true",
                     help="fail the run if any test is skipped (make test uses it in both "
                          "environments: each has every extra it is meant to have, so nothing "
                          "may be skipped; .venv-modern deselects the lava tests instead)")


def pytest_runtest_setup(item):
    if item.get_closest_marker("lava"):
        try:
            import leanspike.adapters.lava  # noqa: F401
        except ImportError as exc:
            pytest.skip(f"Lava not available: {exc}")


def pytest_runtest_logreport(report):
    if report.skipped:
        _SKIPPED.append(report.nodeid)


_SKIPPED: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("--no-skips") and _SKIPPED:
        terminalreporter.write_line(
            f"--no-skips: {len(_SKIPPED)} test(s) were skipped, which this environment does not "
            f"allow (.venv has every extra on Python 3.10; .venv-modern every one but Lava, "
            f"whose tests it deselects with -m 'not lava'):", red=True)
        for nodeid in _SKIPPED:
            terminalreporter.write_line(f"  {nodeid}", red=True)


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("--no-skips") and _SKIPPED and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def cli(capsys):
    """Run the leanspike CLI in-process: cli("zoo", "list") -> (exit code, stdout, stderr)."""
    from leanspike.app.cli import main

    def run(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _lif(out_shape, generator, per_neuron: bool, reset: str = "subtract"):
    if per_neuron:
        threshold = torch.rand(out_shape, generator=generator) + 0.5
        v_init = torch.rand(out_shape, generator=generator) * 0.5
    else:
        threshold, v_init = 0.75, 0.25
    return S.LIF(threshold=threshold, leak=0.875, reset=reset, amplitude=1.0, v_init=v_init)


@pytest.fixture
def make_conv_spec():
    """A small conv spec: Conv-LIF, AvgPool, Conv-LIF (asymmetric kernel, masked), Flatten,
    Linear-LIF, Linear-Integrator. Options vary neuron parameters."""

    def make(seed: int = 0, per_neuron: bool = False, reset: str = "subtract", timesteps: int = 3,
             scale: float = 1.0) -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        w = lambda *shape: (torch.randn(*shape, generator=g) * scale)  # noqa: E731
        mask = (torch.rand(6, 4, 3, 2, generator=g) > 0.3).to(torch.float32)
        layers = [
            S.Conv2d(w(4, 1, 3, 3), w(4) * 0.1, None, _lif((4, 8, 8), g, per_neuron, reset),
                     stride=(1, 1), padding=(1, 1)),
            S.AvgPool2d((2, 2), (2, 2)),
            S.Conv2d(w(6, 4, 3, 2) * 0.5, None, mask, _lif((6, 4, 3), g, per_neuron, reset),
                     stride=(1, 1), padding=(1, 0)),
            S.Flatten(),
            S.Linear(w(16, 72) * 0.3, w(16) * 0.1, None, _lif((16,), g, per_neuron, reset)),
            S.Linear(w(10, 16) * 0.3, w(10) * 0.1, None, S.Integrator(leak=1.0, v_init=0.0)),
        ]
        return S.NetworkSpec((1, 8, 8), layers, timesteps, metadata={"made_by": "test"})

    return make


@pytest.fixture
def make_mlp_spec():
    def make(seed: int = 0, timesteps: int = 2, sizes=(12, 20, 5)) -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        layers = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = k == len(sizes) - 2
            neuron = S.Integrator() if last else S.LIF(threshold=1.0)
            layers.append(S.Linear(torch.randn(b, a, generator=g), torch.randn(b, generator=g),
                                   None, neuron))
        return S.NetworkSpec((sizes[0],), layers, timesteps)

    return make


@pytest.fixture
def tiny_spec():
    """A two-layer MLP spec on 64 inputs: tiny_spec(seed, timesteps)."""
    def make(seed: int = 0, timesteps: int = 2) -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        layers = [S.Linear(torch.randn(8, 64, generator=g), torch.randn(8, generator=g), None,
                           S.LIF(threshold=0.75)),
                  S.Linear(torch.randn(10, 8, generator=g), None, None, S.Integrator())]
        return S.NetworkSpec((64,), layers, timesteps)

    return make


@pytest.fixture
def make_maxpool_spec():
    """A small spec with max pooling of spikes: Conv-LIF (amplitude 0.75), MaxPool 2x2,
    Conv-LIF, MaxPool 3x3 stride 1 (overlapping windows), Flatten, Linear-Integrator."""

    def make(seed: int = 0, timesteps: int = 2, reset: str = "subtract") -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        layers = [
            S.Conv2d(torch.randn(4, 1, 3, 3, generator=g), torch.randn(4, generator=g) * 0.1,
                     None, S.LIF(threshold=0.75, leak=0.875, reset=reset, amplitude=0.75,
                                 v_init=0.25), padding=(1, 1)),
            S.MaxPool2d((2, 2), (2, 2)),
            S.Conv2d(torch.randn(6, 4, 3, 3, generator=g) * 0.5, None, None,
                     S.LIF(threshold=0.5, reset=reset), padding=(1, 1)),
            S.MaxPool2d((3, 3), (1, 1)),
            S.Flatten(),
            S.Linear(torch.randn(10, 24, generator=g) * 0.3, torch.randn(10, generator=g) * 0.1,
                     None, S.Integrator()),
        ]
        return S.NetworkSpec((1, 8, 8), layers, timesteps, metadata={"made_by": "test"})

    return make


@pytest.fixture
def make_signal_spec():
    """A 1-D spec on (2, 24) signals: Conv1d-LIF (per-neuron thresholds, stride 1, padding 2),
    AvgPool1d 2 (tiling: folded into the next conv), Conv1d-LIF (masked, stride 2), MaxPool1d
    3 stride 1 (overlapping windows of spikes), Flatten, Linear-LIF, Linear-Integrator."""

    def make(seed: int = 0, timesteps: int = 3, reset: str = "subtract") -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        mask = (torch.rand(6, 4, 3, generator=g) > 0.3).to(torch.float32)
        layers = [
            S.Conv1d(torch.randn(4, 2, 5, generator=g), torch.randn(4, generator=g) * 0.1, None,
                     S.LIF(threshold=torch.rand(4, 24, generator=g) + 0.5, leak=0.875,
                           reset=reset, v_init=0.25), padding=(2,)),
            S.AvgPool1d((2,), (2,)),
            S.Conv1d(torch.randn(6, 4, 3, generator=g), None, mask,
                     S.LIF(threshold=0.5, reset=reset, amplitude=0.75), stride=(2,)),
            S.MaxPool1d((3,), (1,)),
            S.Flatten(),
            S.Linear(torch.randn(12, 18, generator=g) * 0.5, torch.randn(12, generator=g) * 0.1,
                     None, S.LIF(threshold=0.75, reset=reset)),
            S.Linear(torch.randn(3, 12, generator=g) * 0.3, None, None, S.Integrator()),
        ]
        return S.NetworkSpec((2, 24), layers, timesteps).validate()

    return make


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits on the fixed stratified split (loaded once per test module)."""
    from leanspike.data import load_dataset

    return load_dataset("digits")
