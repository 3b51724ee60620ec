"""Every network leanspike returns or loads can be deep-copied (as a whole, and layer by layer as
NeuroBench copies layers) and pickled, and the copy computes exactly what the original does,
from its own parameters. After a training pass a masked layer's weight is torch's non-leaf
``weight_orig * mask`` again: the whole network still copies, its layers once a pass without
gradients (any evaluation) has recomputed the weight."""

import copy
import io

import pytest
import snntorch as snn
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from leanspike import spec as S
from leanspike.adapters.snntorch import prune, to_snntorch
from leanspike.adapters.snntorch.adopt import adopt
from leanspike.registry import Registry


def _mlp_spec() -> S.NetworkSpec:
    g = torch.Generator().manual_seed(0)
    layers = [S.Flatten(),
              S.Linear(torch.randn(24, 64, generator=g) * 0.3, torch.randn(24, generator=g) * 0.1,
                       None, S.LIF(threshold=0.75, amplitude=0.5)),
              S.Linear(torch.randn(10, 24, generator=g) * 0.3, None, None, S.Integrator())]
    return S.NetworkSpec((1, 8, 8), layers, 1)


def _masked(module: nn.Module) -> bool:
    """The module itself carries a torch pruning mask (``is_pruned`` also says so of its
    containers)."""
    return "weight_mask" in dict(module.named_buffers(recurse=False))


def _pickled(net: nn.Module) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def _train_step(net: nn.Module, x: torch.Tensor) -> None:
    """One forward and backward pass with gradients, as training leaves a network."""
    net.train()
    net(x).sum().backward()
    net.eval()
    assert all(not m.weight.is_leaf for m in net.modules() if _masked(m))


def _check_copies(net: nn.Module, x: torch.Tensor, *, layers: bool = True) -> None:
    """Copies taken in the state the caller left ``net`` in, before any pass here."""
    twins = [copy.deepcopy(net), _pickled(net)]
    if layers:
        for layer in net.modules():
            copy.deepcopy(layer)
    with torch.no_grad():
        want = net.run(x)
    for twin in twins:
        with torch.no_grad():
            got = twin.run(x)
        assert torch.equal(got.logits, want.logits)
        assert got.spikes.keys() == want.spikes.keys()
        assert all(torch.equal(got.spikes[i], want.spikes[i]) for i in want.spikes)
        masked = [(a, b) for a, b in zip(net.modules(), twin.modules()) if _masked(a)]
        for a, b in masked:  # the masks came along, and the copy computes with its own weights
            assert _masked(b) and torch.equal(a.weight_mask, b.weight_mask)
            assert b.weight_orig is not a.weight_orig
        if masked:
            with torch.no_grad():
                masked[0][1].weight_orig.mul_(-1)
                assert not torch.equal(twin(x), want.logits)
                assert torch.equal(net(x), want.logits)


def _check_before_and_after_training(net: nn.Module, x: torch.Tensor) -> None:
    _check_copies(net, x)
    _train_step(net, x)
    _check_copies(net, x, layers=False)
    _check_copies(net, x)  # its checks ran the network without gradients


def test_a_dense_network_copies_before_and_after_training(make_conv_spec):
    spec = make_conv_spec(timesteps=2)
    spec.layers[2].mask = None
    net = to_snntorch(spec)
    assert not any(_masked(m) for m in net.modules())
    x = torch.rand(6, 1, 8, 8) * 2
    _check_before_and_after_training(net, x)


def test_a_masked_spec_copies_before_any_forward_pass(make_conv_spec):
    net = to_snntorch(make_conv_spec())  # its second conv carries a pruning mask
    assert any(_masked(m) for m in net.modules())
    x = torch.rand(6, 1, 8, 8) * 2
    _check_before_and_after_training(net, x)


@pytest.mark.parametrize("method", ["gradr", "stds", "magnitude"])
def test_pruned_and_registry_loaded_networks_copy(method, digits, tmp_path):
    reg = Registry(tmp_path / "reg")
    result = prune(_mlp_spec(), digits.train, digits.test, method=method, target_sparsity=0.8,
                   epochs=2, device="cpu", progress=False, registry=reg, name="p")
    x = digits.test.tensors[0][:32]
    loaded = to_snntorch(result.entry_ref, registry=reg)
    for net in (result.network, loaded):
        assert all(_masked(m) for m in net.modules()
                   if isinstance(m, nn.Linear)), method
        _check_before_and_after_training(net, x)


def test_an_adopted_model_with_torch_pruning_copies(digits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 24), snn.Leaky(beta=0.9, init_hidden=True),
                          nn.Linear(24, 10), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    torch_prune.l1_unstructured(model[1], "weight", amount=0.5)
    x = digits.test.tensors[0][:32]
    model(x)[0].sum().backward()  # the user's own training step: model[1].weight keeps a graph
    net = adopt(model, (1, 8, 8), timesteps=2)
    assert _masked(net.layers[1])
    _check_before_and_after_training(net, x)
