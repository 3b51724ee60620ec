import pytest
import torch

from leanspike.registry import Registry
from leanspike.zoo import create_model


@pytest.fixture
def registry(tmp_path):
    return Registry(tmp_path / "reg")


@pytest.fixture
def tiny_ann():
    torch.manual_seed(0)
    return create_model("mlp", hidden=(8,), activation="clip")
