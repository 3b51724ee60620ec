"""Specs that exercise every NIR mapping, and snnTorch models NIR carries exactly."""

import pytest
import torch

from leanspike import spec as S


@pytest.fixture
def nir_spec():
    """nir_spec(reset, per_neuron, seed): Conv-LIF (per-neuron thresholds), AvgPool, Conv-LIF
    (masked, no bias), Flatten, Linear-IF (amplitude 0.5), Linear-CubaLIF, Linear-LI output."""

    def make(reset: str = "zero", per_neuron: bool = True, seed: int = 0, timesteps: int = 3,
             v_init: float = 0.0, maxpool: bool = False) -> S.NetworkSpec:
        g = torch.Generator().manual_seed(seed)
        w = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
        th = (torch.rand(4, 8, 8, generator=g) + 0.5) if per_neuron else 0.75
        leak = (torch.rand(4, 1, 1, generator=g) * 0.5 + 0.4) if per_neuron else 0.875
        mask = (torch.rand(6, 4, 3, 3, generator=g) > 0.3).to(torch.float32)
        pool = S.MaxPool2d((2, 2), (2, 2)) if maxpool else S.AvgPool2d((2, 2), (2, 2))
        layers = [
            S.Conv2d(w(4, 1, 3, 3), w(4) * 0.1, None,
                     S.LIF(threshold=th, leak=leak, reset=reset, v_init=v_init), padding=(1, 1)),
            pool,
            S.Conv2d(w(6, 4, 3, 3) * 0.5 * mask, None, mask,
                     S.LIF(threshold=0.5, leak=0.9, reset=reset), padding=(1, 1)),
            S.Flatten(),
            S.Linear(w(16, 96) * 0.3, w(16) * 0.1, None,
                     S.LIF(threshold=1.0, leak=1.0, reset=reset, amplitude=0.5)),
            S.Linear(w(12, 16) * 0.5, None, None,
                     S.LIF(threshold=0.25, leak=0.75, reset=reset, current_leak=0.5)),
            S.Linear(w(10, 12) * 0.3, w(10) * 0.1, None, S.Integrator(leak=0.9)),
        ]
        return S.NetworkSpec((1, 8, 8), layers, timesteps, metadata={"made_by": "nir test"})

    return make


def snntorch_model(reset: str = "zero", seed: int = 0):
    """A tutorial-shaped snnTorch model (Conv, Leaky, AvgPool, Flatten, Linear, Leaky) with
    per-neuron beta and threshold tensors: snnTorch 1.0's export_to_nir writes a scalar beta as
    a 0-d array, which NIR's own type check rejects."""
    import snntorch as snn
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=torch.rand(4, 8, 8) * 0.5 + 0.4, threshold=torch.rand(4, 8, 8) + 0.5,
                  init_hidden=True, reset_mechanism=reset),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
        snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.full((10,), 0.5),
                  init_hidden=True, output=True, reset_mechanism=reset),
    )


def snntorch_mlp(reset: str = "zero", seed: int = 0):
    import snntorch as snn
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(64, 16),
        snn.Leaky(beta=torch.full((16,), 0.9), threshold=torch.full((16,), 0.5),
                  init_hidden=True, reset_mechanism=reset),
        nn.Linear(16, 10),
        snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.full((10,), 0.5),
                  init_hidden=True, output=True, reset_mechanism=reset),
    )


def export_snntorch(model, input_shape):
    """snnTorch's own exporter (ignore_dims=[0]: its graph would keep the batch dimension)."""
    from snntorch.export_nir import export_to_nir

    return export_to_nir(model, torch.zeros(1, *input_shape), ignore_dims=[0])
