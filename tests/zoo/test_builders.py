import pytest
import torch

from leanspike.errors import ConfigError, UnknownModelError
from leanspike.zoo import create_model, list_models, model_entry


def test_zoo_lists_the_required_models():
    assert {"mlp", "small_cnn", "vgg11", "vgg16", "resnet20"} <= set(list_models())


@pytest.mark.parametrize("name, kwargs, shape", [
    ("mlp", {}, (2, 1, 8, 8)),
    ("small_cnn", {}, (2, 1, 8, 8)),
    ("vgg11", {"width": 0.0625, "hidden": (64, 64)}, (2, 3, 32, 32)),
    ("vgg16", {"width": 0.0625, "hidden": (64, 64)}, (2, 3, 32, 32)),
    ("resnet20", {"widths": (4, 8, 16)}, (2, 3, 32, 32)),
])
@pytest.mark.parametrize("activation", ["relu", "clip", "qcfs"])
def test_every_model_builds_and_runs_with_every_activation(name, kwargs, shape, activation):
    torch.manual_seed(0)
    model = create_model(name, activation=activation, num_classes=7, **kwargs)
    out = model(torch.randn(shape))
    assert out.shape == (2, 7)
    assert model.leanspike_config["name"] == name
    assert model.leanspike_config["kwargs"]["activation"] == activation
    acts = [m for m in model.modules() if type(m).__name__.lower().startswith(
        {"relu": "relu", "clip": "clippedrelu", "qcfs": "qcfs"}[activation])]
    assert len(acts) >= 2
    assert len({id(a) for a in acts}) == len(acts)  # one module (one clip/lambda) per layer


def test_vgg16_full_size_has_the_textbook_layer_count():
    model = create_model("vgg16")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())


def test_resnet20_has_twenty_weighted_layers_on_the_main_path():
    model = create_model("resnet20")
    convs = [n for n, m in model.named_modules()
             if isinstance(m, torch.nn.Conv2d) and "shortcut" not in n]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(convs) + len(linears) == 20
    assert model_entry("resnet20").convertible  # as a graph: tests/convert/test_residual.py


def test_unknown_model_and_bad_arguments():
    with pytest.raises(UnknownModelError, match="no model named 'vgg19'.*available: mlp"):
        create_model("vgg19")
    with pytest.raises(ConfigError, match=r"create_model\('small_cnn'\).*takes"):
        create_model("small_cnn", depth=3)
    with pytest.raises(ConfigError, match="too small for this many poolings"):
        create_model("vgg16", input_shape=(3, 8, 8))
    with pytest.raises(ConfigError, match=r"input_shape must be \(C, H, W\)"):
        create_model("small_cnn", input_shape=(64,))
