"""Outside torchrun every helper of ``leanspike.distributed`` leaves the single-process code
path exactly as it was."""

import pytest
import torch
from torch import nn
from torch.utils.data import RandomSampler, TensorDataset

from leanspike import distributed
from leanspike.errors import LeanspikeError


def test_nothing_is_distributed_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.init("cpu")
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.barrier()
    assert distributed.all_sum(1.5, 2) == [1.5, 2]


def test_one_process_runs_the_main_only_step_itself():
    assert distributed.from_main(lambda: "entry:1") == "entry:1"
    with pytest.raises(ZeroDivisionError):
        distributed.from_main(lambda: 1 / 0)


def test_one_process_trains_on_all_the_data_with_the_module_itself():
    data = TensorDataset(torch.arange(10.0))
    loader = distributed.train_loader(data, 4, seed=0, generator=torch.Generator())
    assert isinstance(loader.sampler, RandomSampler)
    distributed.set_epoch(loader, 3)  # a no-op here
    assert sorted(float(x) for (batch,) in loader for x in batch) == list(range(10))
    module = nn.Linear(2, 2)
    assert distributed.wrap(module) is module


def test_a_cuda_device_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LeanspikeError, match="CUDA is not available"):
        distributed.init("cuda")
