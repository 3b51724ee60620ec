import pytest
import torch

from leanspike.errors import ConfigError
from leanspike.training import TrainConfig, evaluate, resolve_device, set_seed, train_ann
from leanspike.zoo import create_model


def _small():
    set_seed(0)
    return create_model("small_cnn", channels=(4, 8, 8), hidden=(32,))


def test_training_learns_digits_well_above_chance(digits):
    model = _small()
    chance = evaluate(model, digits.test)
    result = train_ann(model, digits, TrainConfig(epochs=12, device="cpu"), progress=False)
    assert result.test_accuracy > 0.8 > chance + 0.3
    assert len(result.history) == 12
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.test_accuracy == pytest.approx(evaluate(model, digits.test))


def test_same_seed_same_numbers(digits):
    runs = [train_ann(_small(), digits, TrainConfig(epochs=2, seed=3, device="cpu"),
                      progress=False) for _ in range(2)]
    assert runs[0].history == runs[1].history


def test_adam_and_constant_schedule(digits):
    result = train_ann(_small(), digits, TrainConfig(epochs=2, optimizer="adam", lr=3e-3,
                                                     schedule="constant", device="cpu"),
                       progress=False)
    assert result.test_accuracy > 0.5


def test_bad_configuration():
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_progress_bar_only_where_asked_and_watched(digits, capsys, monkeypatch):
    """stderr is captured (not a terminal): no bar unless LEANSPIKE_PROGRESS=1 forces one."""
    config = TrainConfig(epochs=2, device="cpu")
    monkeypatch.delenv("LEANSPIKE_PROGRESS", raising=False)
    train_ann(_small(), digits, config, progress=True)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("LEANSPIKE_PROGRESS", "1")
    train_ann(_small(), digits, config, progress=False)
    assert capsys.readouterr().err == ""
    train_ann(_small(), digits, config, progress=True)
    err = capsys.readouterr().err
    assert "train ANN: 100%" in err and "2/2" in err and "loss=" in err
