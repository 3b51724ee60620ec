"""Data-parallel training under ``torchrun --nproc-per-node 2`` (gloo on CPU): the ranks end
with the same weights and Grad R masks although each trained on its own half of the data, rank
0 alone writes the registry and the run folder, and a second run resumes from the registry."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest
import torch

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2"]
WORKER = Path(__file__).with_name("worker.py")
HANG_GUARD = Path(__file__).with_name("hang_guard.py")
STAGES = ["ann-reference", "ann", "converted", "retrained", "pruned", "quantised",
          "deployed-lava-fixed"]

pytestmark = pytest.mark.slow


# A rank that has not finished by then prints every thread's stack and exits (faulthandler,
# set up in worker.py), so a hang ends as a failure that says where it hung.
HANG_S = 120


class Hung(AssertionError):
    """torchrun did not finish: a rank hung (its stacks are in the message)."""


def _torchrun(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LEANSPIKE_TEST_HANG_S": str(HANG_S)}
    # files, not pipes: a worker left behind would hold a pipe open and the read would wait
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([*TORCHRUN, *map(str, args)], env=env, stdout=out, stderr=err,
                                text=True, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.terminate()  # torchrun's agent stops its workers on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    tail = f"{stdout[-3000:]}{stderr[-6000:]}"
    if timed_out:
        raise Hung(f"torchrun ran past {timeout} s:\n{tail}")
    if "Timeout (0:" in stderr:  # faulthandler's header: a rank hung and dumped its stacks
        raise Hung(f"a rank hung for {HANG_S} s:\n{tail}")
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _once_more_if_hung(run, tmp_path_factory, name: str):
    """``run(folder)`` in a fresh folder, and once more in another if a rank hung: clean-clone
    runs, CI's among them, have seen a gloo rank hang without a word, which 32 runs of the
    worker alone never reproduced. A hang is not what these tests check, but it is not hidden
    either: the first one's stacks become a warning in the test report, and a second hang
    fails the test with its stacks."""
    for attempt in (1, 2):
        folder = tmp_path_factory.mktemp(name)
        try:
            return run(folder)
        except Hung as hung:
            if attempt == 2:
                raise
            warnings.warn(f"torchrun hung and was run again: {hung}", stacklevel=1)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of the worker's two ranks ended with, and the folder they wrote to."""
    def run(root):
        _torchrun(HANG_GUARD, WORKER, root, root / "reg")
        return [torch.load(root / f"rank{r}.pt") for r in (0, 1)], root

    return _once_more_if_hung(run, tmp_path_factory, "worker")


def test_each_rank_trains_on_its_own_half_of_the_data(ranks):
    (a, b), _ = ranks
    assert len(a["shard"]) == len(b["shard"]) == 200
    assert not set(a["shard"]) & set(b["shard"])


def test_ann_weights_agree_across_ranks_and_it_learns(ranks):
    (a, b), _ = ranks
    assert a["ann"].keys() == b["ann"].keys()
    for k in a["ann"]:
        assert torch.equal(a["ann"][k], b["ann"][k]), k
    assert a["ann_accuracy"] == b["ann_accuracy"] > 0.8
    assert a["history"] == b["history"]  # epoch figures cover both shards


def test_gradr_masks_agree_across_ranks(ranks):
    (a, b), _ = ranks
    assert a["masks"] and a["masks"].keys() == b["masks"].keys()
    for k in a["masks"]:
        assert torch.equal(a["masks"][k], b["masks"][k]), k
    assert a["sparsity"] == b["sparsity"] >= 0.79


def test_only_rank_zero_registers_and_every_rank_gets_its_entry(ranks):
    from leanspike.registry import Registry

    (a, b), root = ranks
    entries = Registry(root / "reg").list()
    assert [e.ref for e in entries] == ["dist:1"]
    assert a["entry"] == b["entry"] == "dist:1"


def test_a_failure_on_rank_zero_fails_the_other_rank_too(ranks):
    (a, b), _ = ranks
    assert (a["failure"], b["failure"]) == ("ZeroDivisionError", "DistributedError")


@pytest.mark.lava
def test_pipeline_under_torchrun_registers_each_stage_once_and_resumes(tmp_path_factory):
    from leanspike.registry import Registry

    def run(folder):
        args = [HANG_GUARD, "leanspike.app", "pipeline", "--quick", "--registry",
                folder / "reg", "--out", folder / "run", "--no-progress"]
        start = time.perf_counter()
        done = _torchrun(*args, timeout=420)
        print(f"2-process quick pipeline: {time.perf_counter() - start:.1f} s")
        summary = json.loads((folder / "run" / "summary.json").read_text())
        entries = Registry(folder / "reg").list()
        again = _torchrun(*args, timeout=420)
        resumed = json.loads((folder / "run" / "summary.json").read_text())
        return folder, done, entries, summary, again, resumed

    folder, done, entries, summary, again, resumed = _once_more_if_hung(
        run, tmp_path_factory, "pipeline")
    assert done.stdout.count("pipeline digits-small-cnn: registry") == 1  # rank 0 prints
    assert sorted(e.stage for e in entries) == sorted(STAGES)
    assert [s["entry"] for s in summary["stages"]] == [e.ref for e in entries]
    assert summary["stages"][-1]["accuracy"] > 0.3
    # Lava runs the emulation's integers; the float twin can tip a tie at a threshold
    assert summary["stages"][-1]["lava_agreement"] >= 0.9

    assert again.stdout.count("reusing") == len(STAGES)
    assert len(Registry(folder / "reg").list()) == len(STAGES)
    assert [s["accuracy"] for s in resumed["stages"]] == \
        [s["accuracy"] for s in summary["stages"]]
