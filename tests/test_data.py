import struct

import numpy as np
import pytest
import torch

from leanspike.data import dataset_info, list_datasets, load_dataset
from leanspike.errors import DatasetNotFoundError, UnknownDatasetError


def test_digits_is_offline_stratified_normalised_and_reproducible():
    a = load_dataset("digits", seed=0)
    b = load_dataset("digits", seed=0)
    c = load_dataset("digits", seed=1)
    assert len(a.train) + len(a.test) == 1797
    assert len(a.test) == 450
    x, y = a.train.tensors
    assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-2
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert not torch.equal(a.test.tensors[1], c.test.tensors[1])
    counts = np.bincount(a.test.tensors[1].numpy(), minlength=10)
    assert counts.min() >= 43 and counts.max() <= 47  # every class keeps its share
    assert a.info.num_classes == 10 and a.info.input_shape == (1, 8, 8)


def test_unknown_dataset():
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'svhn'; available: cifar10"):
        load_dataset("svhn")
    assert list_datasets() == ["cifar10", "cifar100", "digits", "mnist"]


@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100"])
def test_missing_data_dir_says_what_to_do(tmp_path, name):
    with pytest.raises(DatasetNotFoundError, match="pass --data-dir DIR"):
        load_dataset(name)
    with pytest.raises(DatasetNotFoundError, match=f"{tmp_path / 'nope'} does not exist"):
        load_dataset(name, tmp_path / "nope")
    layout = dataset_info(name).layout
    with pytest.raises(DatasetNotFoundError, match="not found or incomplete") as info:
        load_dataset(name, tmp_path)  # exists but empty: no download attempted
    assert layout in str(info.value) and "--download" in str(info.value)
    assert list(tmp_path.iterdir()) == [] or name == "mnist"


def _write_idx(path, array: np.ndarray, magic: int):
    with open(path, "wb") as f:
        f.write(struct.pack(">" + "i" * (1 + array.ndim), magic, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_mnist_loads_from_a_local_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)), 2049)
    splits = load_dataset("mnist", tmp_path)
    assert len(splits.train) == 12 and len(splits.test) == 5
    x, y = splits.train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= y < 10
    assert x.min() < 0  # normalised with MNIST's mean and std
