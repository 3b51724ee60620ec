import pytest
import torch
from torch import nn

from leanspike.errors import ConfigError
from leanspike.zoo import create_model, fold_batch_norm


def _train_bn_stats(model, shape):
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(shape) * 2 + 0.5)
    return model.eval()


@pytest.mark.parametrize("name, kwargs, shape", [
    ("small_cnn", {"batch_norm": True}, (16, 1, 8, 8)),
    ("mlp", {"batch_norm": True}, (16, 1, 8, 8)),
    ("resnet20", {"widths": (4, 8, 8)}, (16, 3, 32, 32)),
    ("vgg11", {"width": 0.0625, "hidden": (32,), "batch_norm": True}, (16, 3, 32, 32)),
])
def test_folding_keeps_the_function_and_removes_every_batch_norm(name, kwargs, shape):
    torch.manual_seed(0)
    model = _train_bn_stats(create_model(name, **kwargs), shape)
    folded = fold_batch_norm(model)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    x = torch.randn(shape)
    torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)
    # the original model is untouched
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_folded_model_matches_the_same_architecture_without_batch_norm():
    model = _train_bn_stats(create_model("small_cnn", batch_norm=True), (8, 1, 8, 8))
    folded = fold_batch_norm(model)
    assert folded.leanspike_config["kwargs"]["batch_norm"] is False
    plain = create_model("small_cnn", batch_norm=False)
    plain.load_state_dict(folded.state_dict())  # same keys and shapes
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(plain.eval()(x), folded(x))


def test_a_batch_norm_that_cannot_be_folded_is_named():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2))
    with pytest.raises(ConfigError, match=r"cannot fold batch norm 2"):
        fold_batch_norm(model)
    assert isinstance(fold_batch_norm(model, strict=False)[2], nn.BatchNorm2d)
