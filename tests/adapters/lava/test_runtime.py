"""The Lava runtime never outlives a run: not after errors, not after Ctrl-C; and bad specs
are refused before any Lava process exists."""

import multiprocessing
import os
import signal
import subprocess
import threading

import pytest
import torch

from leanspike import spec as S
from leanspike.errors import SpecError

pytestmark = pytest.mark.lava


def _children() -> list[str]:
    """Live child processes of this one, other than multiprocessing's resource tracker."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line.strip() and "resource_tracker" not in line and " ps " not in f" {line} "]


def _no_lava_processes(monkeypatch):
    from lava.magma.core.process.process import AbstractProcess

    def refuse(self, *args, **kwargs):
        raise AssertionError("a Lava process was created for a bad spec")

    monkeypatch.setattr(AbstractProcess, "__init__", refuse)


def test_unsupported_layer_is_refused_before_lava_starts(make_mlp_spec, monkeypatch):
    from leanspike.adapters.lava import run

    spec = make_mlp_spec()
    spec.layers.insert(1, torch.nn.ReLU())
    _no_lava_processes(monkeypatch)
    with pytest.raises(SpecError, match=r"layers\[1\].*unknown layer type"):
        run(spec, torch.rand(2, 12))


def test_shape_mismatch_is_refused_before_lava_starts(make_conv_spec, monkeypatch):
    from leanspike.adapters.lava import run

    spec = make_conv_spec()
    spec.layers[4] = S.Linear(torch.randn(16, 70), None, None, S.LIF())
    _no_lava_processes(monkeypatch)
    with pytest.raises(SpecError, match=r"layers\[4\].*70"):
        run(spec, torch.rand(2, 1, 8, 8), "lava-fixed")


def test_an_error_inside_a_process_model_stops_the_runtime(make_mlp_spec, monkeypatch):
    from leanspike.adapters.lava import run
    from leanspike.adapters.lava.procs import models
    from leanspike.adapters.lava.runner import LavaRunError

    def broken(*args, **kwargs):
        raise ValueError("boom in a neuron")

    monkeypatch.setattr(models, "lif_float", broken)
    with pytest.raises(LavaRunError, match="PySpecNeuronFloat at time step 1.*boom"):
        run(make_mlp_spec(), torch.rand(3, 12))
    assert not multiprocessing.active_children()
    assert _children() == []


def test_ctrl_c_stops_the_runtime_and_leaves_no_process(make_conv_spec):
    from leanspike.adapters.lava import run

    spec = make_conv_spec(timesteps=4)
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(spec, torch.rand(2000, 1, 8, 8), "lava-float")
    finally:
        timer.cancel()
    assert not multiprocessing.active_children()
    assert _children() == []
