"""A linear readout of the last layer's first spikes (scikit-learn), the only supervised part.

STDP learns features without labels; a linear classifier on them measures how useful they
are, as Kheradpisheh et al. (2018) do with an SVM. Features keep the TTFS code: a neuron that
fired at t gives (T - t) / T, one that stayed silent gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from leanspike.errors import ConfigError
from leanspike.stdp.encoding import NEVER

READOUTS = ("svm", "logistic")


def spike_features(times: torch.Tensor, timesteps: int) -> np.ndarray:
    """[N, F] earliness features from spike times [N, ...]."""
    t = times.reshape(len(times), -1)
    early = torch.where(t < NEVER, (timesteps - t).to(torch.float64) / timesteps, 0.0)
    return early.numpy()


@dataclass
class Readout:
    """``kind`` 'svm' (linear SVM, the paper's choice) or 'logistic'; ``c`` its inverse
    regularisation. Features are standardised first."""

    kind: str = "svm"
    c: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in READOUTS:
            raise ConfigError(f"unknown readout {self.kind!r}; choose from {', '.join(READOUTS)}")
        self.model = None

    def fit(self, features: np.ndarray, labels) -> Readout:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        clf = (LinearSVC(C=self.c, dual=False, max_iter=5000, random_state=self.seed)
               if self.kind == "svm" else LogisticRegression(C=self.c, max_iter=2000))
        self.model = make_pipeline(StandardScaler(), clf).fit(features, np.asarray(labels))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise ConfigError("the readout is not fitted yet (call fit first)")
        return self.model.predict(features)

    def accuracy(self, features: np.ndarray, labels) -> float:
        return float((self.predict(features) == np.asarray(labels)).mean())
