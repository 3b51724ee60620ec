"""The Lava side's environment: the frozen Lava imports and runs here, and its absence is
reported clearly while everything else keeps working."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# A meta-path hook that makes `import lava` fail, as on a machine without the extra.
_BLOCK_LAVA = textwrap.dedent("""
    import sys
    class _NoLava:
        def find_spec(self, name, path=None, target=None):
            if name == "lava" or name.startswith("lava."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None
    sys.meta_path.insert(0, _NoLava())
""")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", _BLOCK_LAVA + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_without_lava_the_adapter_says_how_to_install_it():
    proc = _python("""
        try:
            import leanspike.adapters.lava
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("imported without Lava")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'leanspike[lava]'" in proc.stdout
    assert "Python 3.10" in proc.stdout


def test_core_and_snntorch_adapter_work_without_lava():
    proc = _python("""
        import sys, torch
        import leanspike, leanspike.app.cli, leanspike.data, leanspike.reference, leanspike.zoo
        import leanspike.training, leanspike.spec
        assert not any(m.split('.')[0] in ('snntorch', 'lava') for m in sys.modules), \\
            'the core must not import snnTorch or Lava'
        from leanspike import spec as S
        from leanspike.adapters.snntorch import to_snntorch
        layers = [S.Linear(torch.ones(3, 2), None, None, S.LIF()),
                  S.Linear(torch.ones(1, 3), None, None, S.Integrator())]
        net = to_snntorch(S.NetworkSpec((2,), layers, 4))
        print(float(net(torch.full((1, 2), 0.75)).sum()))
        assert not any(m.split('.')[0] == 'lava' for m in sys.modules)
    """)
    assert proc.returncode == 0, proc.stderr
    # u = 1.5 -> fire (0.5), 2.0 -> fire (1.0), 2.5 -> fire, 3.0 -> fire: 4 spikes x 3 neurons
    assert float(proc.stdout.strip()) == 12.0


@pytest.mark.lava
def test_lava_adapter_imports_with_the_frozen_releases():
    import leanspike.adapters.lava as lava_adapter

    assert lava_adapter.LAVA_VERSIONS == {"lava-nc": "0.10.0", "lava-dl": "0.6.0"}


@pytest.mark.lava
def test_lava_imports_after_multiprocessing_was_used():
    """Lava sets the start method at import without force; a tqdm bar used first (as in every
    leanspike training run) must not make the Lava adapter unimportable."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import multiprocessing
        from tqdm import tqdm
        for _ in tqdm(range(2), disable=False):
            pass
        assert multiprocessing.get_start_method(allow_none=True) is not None
        import leanspike.adapters.lava
        print(multiprocessing.get_start_method())
    """)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fork"


@pytest.mark.lava
def test_lava_cpu_simulation_runs_with_the_measured_semantics():
    """One synaptic hop adds a step; Lava's LIF fires on v > vth and resets to zero."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    steps = 6
    spikes_in = np.zeros((2, steps))
    spikes_in[0, ::2] = 1
    spikes_in[1, 1] = 1
    src = RingBuffer(data=spikes_in)
    dense = Dense(weights=np.array([[2.0, 0.0], [1.0, 1.0]]))
    lif = LIF(shape=(2,), du=1.0, dv=0.0, vth=1.5, bias_mant=0.0)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    monitor = Monitor()
    monitor.probe(lif.v, steps)
    try:
        lif.run(condition=RunSteps(num_steps=steps),
                run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        v = monitor.get_data()[lif.name]["v"].T
    finally:
        lif.stop()
    assert v[0].tolist() == [0] * 6  # input 2 > 1.5 fires and resets on the same step
    assert v[1].tolist() == [0, 1, 0, 1, 1, 0]  # input from step t arrives at step t+1
