"""The user's own arrays as a dataset (``from_arrays``, ``npz:FILE``) and the synthetic 1-D
``waveforms`` task: classes and input shape read from the data, nothing assumes 10 classes or
images, and bad files are named."""

import numpy as np
import pytest
import torch

from leanspike.data import NPZ_KEYS, dataset_info, from_arrays, load_dataset
from leanspike.errors import ConfigError, DatasetNotFoundError


def _arrays(classes=3, shape=(5,), n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, (n, *shape))
    y = np.arange(n) % classes
    return x[:40], y[:40], x[40:], y[40:]


@pytest.mark.parametrize("classes, shape", [(2, (5,)), (3, (2, 16)), (4, (1, 4, 4))])
def test_classes_and_shape_come_from_the_data(classes, shape):
    splits = from_arrays(*_arrays(classes, shape))
    assert splits.info.num_classes == classes and splits.info.input_shape == shape
    x, y = splits.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and len(splits.test) == 20
    axes = (0,) if len(shape) == 1 else (0, *range(2, len(shape) + 1))
    torch.testing.assert_close(x.mean(dim=axes), torch.zeros(x.shape[1]), atol=1e-5, rtol=0)
    assert len(splits.info.mean) == shape[0]  # per feature, or per channel


def test_normalise_none_keeps_the_values():
    x_tr, y_tr, x_te, y_te = _arrays()
    splits = from_arrays(x_tr, y_tr, x_te, y_te, normalise="none")
    assert torch.equal(splits.test.tensors[0], torch.from_numpy(x_te.astype(np.float32)))


@pytest.mark.parametrize("edit, match", [
    (lambda a: (a[0], a[1][:-1], a[2], a[3]), r"y_train must hold one label per sample"),
    (lambda a: (a[0], a[1] + 0.5, a[2], a[3]), r"y_train must be class indices"),
    (lambda a: (a[0], np.where(a[1] == 1, 2, a[1]), a[2], a[3]),
     r"classes \[1\] have no training sample"),
    (lambda a: (a[0][:, :3], a[1], a[2], a[3]), r"x_train samples have shape \(3,\), x_test"),
    (lambda a: (np.full_like(a[0], np.nan), a[1], a[2], a[3]), r"x_train holds NaN"),
    (lambda a: (a[0][:, 0], a[1], a[2], a[3]), r"x_train must be \[N, F\]"),
])
def test_bad_arrays_are_named(edit, match):
    with pytest.raises(ConfigError, match=match):
        from_arrays(*edit(_arrays()))


def test_an_npz_file_is_a_dataset(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, **dict(zip(NPZ_KEYS, _arrays(2, (7,)))))
    splits = load_dataset(f"npz:{path}")
    assert splits.info.num_classes == 2 and splits.info.input_shape == (7,)
    assert splits.info.name == "npz:mine.npz"
    assert dataset_info(f"npz:{path}").input_shape == (7,)


def test_bad_npz_files_are_named(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"no such file .*absent.npz"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")
    partial = tmp_path / "partial.npz"
    x_tr, y_tr, _, _ = _arrays()
    np.savez(partial, x_train=x_tr, y_train=y_tr)
    with pytest.raises(DatasetNotFoundError, match=r"missing arrays \['x_test', 'y_test'\]"):
        load_dataset(f"npz:{partial}")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetNotFoundError, match=r"corrupt.npz: not a readable .npz"):
        load_dataset(f"npz:{corrupt}")


def test_waveforms_are_a_fixed_balanced_1d_task():
    a, b = load_dataset("waveforms"), load_dataset("waveforms")
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    x, y = a.train.tensors
    assert x.shape == (1200, 1, 64) and len(a.test) == 300
    assert torch.bincount(y).tolist() == [400, 400, 400]
    assert a.info.num_classes == 3 and a.info.input_shape == (1, 64)
    # the classes differ in shape, not in level: equal means and spreads
    means = [float(x[y == c].mean()) for c in range(3)]
    assert max(means) - min(means) < 0.1
