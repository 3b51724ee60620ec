import pytest
import torch
from torch.utils.data import TensorDataset

from leanspike import spec as S
from leanspike.convert import convert
from leanspike.errors import ConfigError
from leanspike.reference import simulate
from leanspike.zoo import create_model, model_entry


@pytest.mark.parametrize("pool, kind", [("avg", torch.nn.AvgPool2d), ("max", torch.nn.MaxPool2d)])
@pytest.mark.parametrize("activation", ["relu", "clip", "qcfs"])
def test_mnist_cnn_runs_on_28x28_with_either_pooling(pool, kind, activation):
    torch.manual_seed(0)
    model = create_model("mnist_cnn", num_classes=7, pool=pool, activation=activation)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 7)
    pools = [m for m in model.modules() if isinstance(m, (torch.nn.AvgPool2d,
                                                           torch.nn.MaxPool2d))]
    assert len(pools) == 2 and all(type(p) is kind for p in pools)
    assert model.fc1.in_features == 32 * 7 * 7
    assert model.leanspike_config["kwargs"]["pool"] == pool
    assert model_entry("mnist_cnn").default_input_shape == (1, 28, 28)


@pytest.mark.parametrize("pool, spec_pool", [("avg", S.AvgPool2d), ("max", S.MaxPool2d)])
def test_mnist_cnn_converts_to_a_spec_the_reference_runs(pool, spec_pool):
    """Convertible: the chain becomes Conv-LIF, pool, Conv-LIF, pool, Flatten, Linear-LIF,
    Linear-Integrator, with max pooling of spikes for pool="max"."""
    torch.manual_seed(0)
    model = create_model("mnist_cnn", channels=(4, 8), hidden=(16,), pool=pool,
                         activation="clip").eval()
    x = torch.randn(16, 1, 28, 28)
    spec, _ = convert(model, TensorDataset(x, torch.zeros(16, dtype=torch.int64)),
                      method="datta", timesteps=2)
    kinds = [type(layer) for layer in spec.layers]
    assert kinds == [S.Conv2d, spec_pool, S.Conv2d, spec_pool, S.Flatten, S.Linear, S.Linear]
    assert spec.input_shape == (1, 28, 28)
    assert simulate(spec, x[:4]).output.shape == (4, 10)


def test_mnist_cnn_takes_any_number_of_stages_and_refuses_bad_settings():
    # the pipeline's --quick model: three stages, 28 -> 14 -> 7 -> 3
    model = create_model("mnist_cnn", channels=[4, 8, 8], hidden=[32])
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert model.fc1.in_features == 8 * 3 * 3
    with pytest.raises(ConfigError, match="pool must be one of \\['avg', 'max'\\], got 'sum'"):
        create_model("mnist_cnn", pool="sum")
    with pytest.raises(ConfigError, match="too small for 3 poolings"):
        create_model("mnist_cnn", input_shape=(1, 2, 2), channels=(4, 4, 4))
