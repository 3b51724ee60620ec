import pytest
import torch

from leanspike.activations import QCFS, ClippedReLU, make_activation
from leanspike.errors import ConfigError


def test_clipped_relu_clips_and_learns_its_clip():
    act = ClippedReLU(init_clip=2.0)
    x = torch.tensor([-1.0, 0.5, 1.5, 3.0, 5.0], requires_grad=True)
    y = act(x)
    assert y.tolist() == [0.0, 0.5, 1.5, 2.0, 2.0]
    y.sum().backward()
    assert act.clip.grad.item() == 2.0  # one unit of gradient from each input above the clip
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]


def test_qcfs_levels_and_straight_through_gradient():
    act = QCFS(levels=4, init_lambda=2.0)
    x = torch.linspace(-1, 3, 17, requires_grad=True)
    y = act(x)
    steps = torch.unique(y.detach())
    assert len(steps) <= 5  # 0, lam/4, ..., lam
    assert y.min() == 0 and y.max() == 2.0
    # floor(z*L/lam + 1/2): 0.24 rounds down, 0.26 rounds up to one level (0.5)
    assert act(torch.tensor([0.24, 0.26])).tolist() == [0.0, 0.5]
    y.sum().backward()
    assert x.grad.abs().sum() > 0  # the floor passes gradient straight through
    assert act.lam.grad is not None


@pytest.mark.parametrize("name, kwargs, cls", [("relu", {}, torch.nn.ReLU),
                                               ("clip", {"init_clip": 3.0}, ClippedReLU),
                                               ("qcfs", {"levels": 2}, QCFS)])
def test_make_activation(name, kwargs, cls):
    assert isinstance(make_activation(name, **kwargs), cls)


def test_bad_activation_arguments_are_named():
    with pytest.raises(ConfigError, match="unknown activation 'gelu'"):
        make_activation("gelu")
    with pytest.raises(ConfigError, match="activation 'qcfs': bad arguments"):
        make_activation("qcfs", colour=1)
    with pytest.raises(ConfigError, match="levels must be >= 1"):
        QCFS(levels=0)
