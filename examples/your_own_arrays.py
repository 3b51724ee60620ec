"""Your own data, as arrays: tabular features and 1-D signals through the whole pipeline.

    python examples/your_own_arrays.py [--dataset wine|breast-cancer|waveforms] [--quick]

No Dataset class to write: save ``x_train, y_train, x_test, y_test`` in a NumPy ``.npz`` file
and run ``leanspike pipeline --dataset npz:FILE --arch mlp``. The number of classes and the
input shape are read from the arrays (wine: 13 features, 3 classes; breast cancer: 30 features,
2 classes, both shipped with scikit-learn). ``waveforms`` is leanspike's offline 1-D signal
task (1 x 64 samples, 3 classes) for the 1-D CNN ``signal_cnn``. Every stage runs: ANN ->
T=2 -> T=1 -> pruned -> Loihi 2 fixed point -> Lava.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from leanspike.app.cli import main as leanspike

TABULAR = ("wine", "breast-cancer")


def save_npz(name: str, path: Path) -> Path:
    """A scikit-learn table as the four arrays leanspike reads (a fixed stratified split)."""
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.model_selection import train_test_split

    bunch = {"wine": load_wine, "breast-cancer": load_breast_cancer}[name]()
    x_tr, x_te, y_tr, y_te = train_test_split(bunch.data, bunch.target, test_size=0.25,
                                              random_state=0, stratify=bunch.target)
    np.savez(path, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=(*TABULAR, "waveforms"), default="wine")
    parser.add_argument("--quick", action="store_true", help="a few epochs per stage")
    parser.add_argument("--out", help="run folder and registry (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.out or scratch)
        root.mkdir(parents=True, exist_ok=True)
        if args.dataset in TABULAR:
            dataset, arch = f"npz:{save_npz(args.dataset, root / f'{args.dataset}.npz')}", "mlp"
        else:
            dataset, arch = "waveforms", "signal_cnn"
        return leanspike(["pipeline", "--dataset", dataset, "--arch", arch,
                          "--registry", str(root / "registry"), "--out", str(root / "run"),
                          "--no-progress", *(["--quick"] if args.quick else [])])


if __name__ == "__main__":
    raise SystemExit(main())
