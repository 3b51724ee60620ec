"""Several writers at once, and writers killed at the worst moments."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from leanspike.registry import Registry

WRITER = textwrap.dedent("""
    import sys, torch
    from leanspike import spec as S
    from leanspike.registry import Registry
    path, worker, count, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    reg = Registry(path)
    for i in range(count):
        g = torch.Generator().manual_seed(worker * 1000 + i)
        layers = [S.Linear(torch.randn(width, 16, generator=g), None, None, S.LIF()),
                  S.Linear(torch.randn(3, width, generator=g), None, None, S.Integrator())]
        reg.register("shared", S.NetworkSpec((16,), layers, 1),
                     metrics={"worker": worker, "i": i})
        print(i, flush=True)
""")


def _writer(path, worker, count, width=4, preamble=""):
    return subprocess.Popen([sys.executable, "-c", preamble + WRITER, str(path), str(worker),
                             str(count), str(width)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_consistent(reg: Registry):
    entries = reg.list()
    assert [e.version for e in entries] == list(range(1, len(entries) + 1))
    report = reg.verify()
    assert report.ok, report.problems
    for e in entries:
        reg.load(e)  # every visible entry is whole
    return entries


def test_concurrent_writers_lose_nothing(tmp_path):
    procs = [_writer(tmp_path, w, 10) for w in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    entries = _assert_consistent(Registry(tmp_path))
    assert len(entries) == 40
    assert sorted((e.metrics["worker"], e.metrics["i"]) for e in entries) == \
        [(w, i) for w in range(4) for i in range(10)]


# Kill the writer from inside at the two critical moments: after its artifact files are in
# place but inside the index transaction, and halfway through writing an artifact file.
KILL_IN_TRANSACTION = textwrap.dedent("""
    import os, signal
    import leanspike.registry.registry as R
    _insert = R.Registry._insert
    def dying_insert(db, *args, **kwargs):
        _insert(db, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    R.Registry._insert = staticmethod(dying_insert)
""")

KILL_MID_FILE = textwrap.dedent("""
    import os, signal
    import leanspike.atomic as A
    def dying_write(path, data, tmp_dir=None):
        fd = os.open(os.path.join(tmp_dir, ".partial.tmp"), os.O_WRONLY | os.O_CREAT)
        os.write(fd, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    import leanspike.registry.store as store
    store.atomic_write = dying_write
""")


@pytest.mark.parametrize("preamble", [KILL_IN_TRANSACTION, KILL_MID_FILE],
                         ids=["inside-transaction", "mid-artifact-file"])
def test_writer_killed_at_a_critical_moment_leaves_no_half_entry(tmp_path, preamble):
    reg = Registry(tmp_path)
    first = _writer(tmp_path, 0, 2)
    assert first.wait(timeout=120) == 0
    dying = _writer(tmp_path, 1, 1, preamble=preamble)
    dying.wait(timeout=120)
    assert dying.returncode == -signal.SIGKILL
    entries = _assert_consistent(reg)
    assert len(entries) == 2  # the killed entry is invisible
    after = _writer(tmp_path, 2, 1)  # and the registry takes new writers (no stale lock)
    assert after.wait(timeout=120) == 0
    assert [e.version for e in _assert_consistent(reg)] == [1, 2, 3]
    reg.gc(grace_seconds=0)
    assert reg.verify().unreferenced_files == 0 and not any(reg.store.tmp.iterdir())


def test_writers_killed_at_random_moments(tmp_path):
    reg = Registry(tmp_path)
    for attempt in range(4):
        proc = _writer(tmp_path, attempt, 1000, width=20_000)  # ~1.3 MB per entry
        proc.stdout.readline()  # it has committed at least one entry and is writing more
        time.sleep(0.05 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        _assert_consistent(reg)
    assert len(reg.list()) >= 4
