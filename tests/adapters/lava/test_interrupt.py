"""Ctrl-C in a terminal during a Lava run: one line "leanspike: interrupted", exit code 130, no
traceback (Lava's workers get the SIGINT too) and no process left behind.

Each run is a separate Python in its own session, interrupted the way a terminal does it: SIGINT
to its whole process group, workers included."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from leanspike import spec as S

pytestmark = pytest.mark.lava

RUN_ON_LAVA = textwrap.dedent("""
    import sys

    import torch

    from leanspike import spec as S
    from leanspike.adapters.lava import run


    def main():
        spec = S.load_spec(sys.argv[1])
        try:
            print("ready", flush=True)
            run(spec, torch.rand(100_000, 1, 8, 8), "lava-float")
        except KeyboardInterrupt:  # as the CLI's main does
            print("leanspike: interrupted", file=sys.stderr)
            return 130
        return 0


    sys.exit(main())
""")


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory):
    """A tiny network on digits' input shape with many time steps: a long run on Lava."""
    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((1, 8, 8), [
        S.Flatten(),
        S.Linear(torch.randn(16, 64, generator=g), None, None, S.LIF(threshold=1.0)),
        S.Linear(torch.randn(10, 16, generator=g), None, None, S.Integrator()),
    ], timesteps=50)
    return spec.save(tmp_path_factory.mktemp("spec"))


def _group(pgid: int) -> list[str]:
    """Live processes of a process group: 'pid name' for each, zombies left out."""
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
        state, _, group = fields.split()[:3]
        if int(group) == pgid and state != "Z":
            alive.append(f"{pid} {name}")
    return alive


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _interrupt(argv: list[str], workers: int, settle: float = 0.0, ready: bool = False
               ) -> tuple[subprocess.Popen, str]:
    """Start ``argv`` in its own session; ``settle`` seconds after its group holds more than
    ``workers`` processes besides itself (and, with ``ready``, after it printed "ready": an
    import may run a short-lived subprocess of its own), press Ctrl-C; return the process,
    finished, and its stderr."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        if ready:
            while proc.stdout.readline() not in ("ready\n", ""):
                pass
        _wait_for(lambda: len(_group(proc.pid)) > workers or proc.poll() is not None, 120,
                  f"{workers} worker processes")
        time.sleep(settle)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None or _group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc, err


def _assert_clean_interrupt(proc: subprocess.Popen, err: str) -> None:
    assert err == "leanspike: interrupted\n"
    assert proc.returncode == 130
    try:
        _wait_for(lambda: not _group(proc.pid), 5, "Lava's workers to end")
    except AssertionError:
        raise AssertionError(f"left behind: {_group(proc.pid)}") from None


def _ctrl_c_myself():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # a KeyboardInterrupt would end this worker with exit code 1


def test_ctrl_c_waits_until_lava_has_started_and_never_reaches_its_workers():
    from leanspike.adapters.lava.runner import _sigint_deferred

    before = signal.getsignal(signal.SIGINT)
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with _sigint_deferred():
            worker = multiprocessing.get_context("fork").Process(target=_ctrl_c_myself)
            worker.start()
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            worker.join(10)
            reached = True
    assert reached
    assert worker.exitcode == 0
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("workers, settle", [(1, 0.0), (5, 0.5)],
                         ids=["while-Lava-starts", "while-running"])
def test_ctrl_c_ends_a_run_with_one_line_and_no_process_left(tmp_path, spec_dir, workers,
                                                             settle):
    script = tmp_path / "run_on_lava.py"
    script.write_text(RUN_ON_LAVA)
    proc, err = _interrupt([sys.executable, str(script), str(spec_dir)], workers, settle,
                           ready=True)
    _assert_clean_interrupt(proc, err)


def test_ctrl_c_in_leanspike_run_lava(spec_dir):
    argv = [sys.executable, "-m", "leanspike.app", "run-lava", str(spec_dir), "--dataset",
            "digits", "--backend", "lava-float"]
    proc, err = _interrupt(argv, workers=5, settle=0.5)
    _assert_clean_interrupt(proc, err)
