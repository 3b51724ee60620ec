import pytest
import torch

from leanspike import spec as S
from leanspike.registry import Registry
from leanspike.zoo import create_model


@pytest.fixture
def registry(tmp_path):
    return Registry(tmp_path / "reg")


@pytest.fixture
def tiny_ann():
    torch.manual_seed(0)
    return create_model("mlp", hidden=(8,), activation="clip")


@pytest.fixture
def tiny_spec():
    def make(seed: int = 0, timesteps: int = 2) -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        layers = [S.Linear(torch.randn(8, 64, generator=g), torch.randn(8, generator=g), None,
                           S.LIF(threshold=0.75)),
                  S.Linear(torch.randn(10, 8, generator=g), None, None, S.Integrator())]
        return S.NetworkSpec((64,), layers, timesteps)

    return make
