"""The zoo's 1-D CNN for (C, L) signals: built by name, trained briefly on the offline waveforms,
converted to a spec of Conv1d and 1-D pooling layers that the reference runs."""

import warnings

import pytest
import torch

from leanspike.convert import convert
from leanspike.data import load_dataset
from leanspike.errors import ConfigError
from leanspike.reference import simulate
from leanspike.training import TrainConfig, evaluate, train_ann
from leanspike.zoo import create_model, model_entry


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_signal_cnn_trains_and_converts(pool):
    splits = load_dataset("waveforms")
    torch.manual_seed(0)
    model = create_model("signal_cnn", num_classes=3, input_shape=(1, 64), channels=(8, 8),
                         pool=pool)
    assert model_entry("signal_cnn").convertible
    result = train_ann(model, splits, TrainConfig(epochs=3), progress=False)
    assert result.test_accuracy > 0.6  # three classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spec, _ = convert(model.eval(), splits.train, timesteps=2)
    kinds = [type(layer).__name__ for layer in spec.layers]
    pooling = "AvgPool1d" if pool == "avg" else "MaxPool1d"
    assert kinds == ["Conv1d", pooling, "Conv1d", pooling, "Flatten", "Linear", "Linear"]
    x, y = splits.test.tensors
    assert float((simulate(spec, x).output.argmax(1) == y).float().mean()) > 0.5
    assert evaluate(model, splits.test) == pytest.approx(result.test_accuracy)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_shape": (1, 8, 8)}, r"input_shape must be \(C, L\)"),
    ({"input_shape": (1, 2)}, r"too short"),
    ({"pool": "sum"}, r"pool must be 'avg' or 'max'"),
])
def test_signal_cnn_refuses_what_it_cannot_build(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        create_model("signal_cnn", **kwargs)
