"""Data-parallel training under ``torchrun --nproc-per-node 2`` (gloo on CPU): the ranks end
with the same weights and Grad R masks although each trained on its own half of the data, rank
0 alone writes the registry and the run folder, and a second run resumes from the registry."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2"]
WORKER = Path(__file__).with_name("worker.py")
STAGES = ["ann-reference", "ann", "converted", "retrained", "pruned", "quantised",
          "deployed-lava-fixed"]

pytestmark = pytest.mark.slow


def _torchrun(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*TORCHRUN, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of the worker's two ranks ended with."""
    root = tmp_path_factory.mktemp("worker")
    _torchrun(WORKER, root, root / "reg")
    return [torch.load(root / f"rank{r}.pt") for r in (0, 1)], root


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
def test_pipeline_under_torchrun_registers_each_stage_once_and_resumes(tmp_path):
    from leanspike.registry import Registry

    args = ["-m", "leanspike.app", "pipeline", "--quick", "--registry", tmp_path / "reg",
            "--out", tmp_path / "run", "--no-progress"]
    start = time.perf_counter()
    done = _torchrun(*args, timeout=420)
    print(f"2-process quick pipeline: {time.perf_counter() - start:.1f} s")
    assert done.stdout.count("pipeline digits-small-cnn: registry") == 1  # rank 0 prints
    entries = Registry(tmp_path / "reg").list()
    assert sorted(e.stage for e in entries) == sorted(STAGES)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [s["entry"] for s in summary["stages"]] == [e.ref for e in entries]
    assert summary["stages"][-1]["accuracy"] > 0.3
    # Lava runs the emulation's integers; the float twin can tip a tie at a threshold
    assert summary["stages"][-1]["lava_agreement"] >= 0.9

    again = _torchrun(*args, timeout=420)
    assert again.stdout.count("reusing") == len(STAGES)
    assert len(Registry(tmp_path / "reg").list()) == len(STAGES)
    resumed = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [s["accuracy"] for s in resumed["stages"]] == \
        [s["accuracy"] for s in summary["stages"]]
