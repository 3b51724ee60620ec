"""Datasets by name. ``digits`` ships inside scikit-learn and works offline; MNIST and CIFAR
load through torchvision from a folder the user provides and are downloaded only on request.
"""

from __future__ import annotations

import os
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
    "mnist": DatasetInfo(
        "mnist", 10, (1, 28, 28), "torchvision.datasets.MNIST", needs_data_dir=True,
        layout="DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
        mean=(0.1307,), std=(0.3081,)),
    "cifar10": DatasetInfo(
        "cifar10", 10, (3, 32, 32), "torchvision.datasets.CIFAR10", needs_data_dir=True,
        layout="DIR/cifar-10-batches-py/ (the extracted cifar-10-python.tar.gz)",
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetInfo(
        "cifar100", 100, (3, 32, 32), "torchvision.datasets.CIFAR100", needs_data_dir=True,
        layout="DIR/cifar-100-python/ (the extracted cifar-100-python.tar.gz)",
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)),
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; available: {', '.join(list_datasets())}") from None


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = False,
                 seed: int = 0, test_fraction: float = 0.25, augment: bool = False) -> Splits:
    """Train and test splits, normalised, as torch Datasets yielding (image [C,H,W], label).

    ``seed`` and ``test_fraction`` shape the digits split only (stratified, so every class keeps
    its share); ``augment`` adds the usual random crop and flip to the CIFAR training set.
    """
    info = dataset_info(name)
    if name == "digits":
        return _digits(info, seed, test_fraction)
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
