import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from leanspike.activations import QCFS, ClippedReLU
from leanspike.convert import METHODS, convert, if_spike_counts
from leanspike.convert.methods import datta_search
from leanspike.errors import ConfigError
from leanspike.reference import simulate
from leanspike.zoo import create_model


def _data(n=512, features=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, features, generator=g), torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize("levels", [1, 2, 4, 8])
def test_qcfs_with_L_equal_T_reproduces_the_quantised_ann_exactly(levels):
    torch.manual_seed(levels)
    ann = nn.Sequential(nn.Linear(6, 16), QCFS(levels=levels, init_lambda=1.5), nn.Linear(16, 3))
    data = _data()
    spec, report = convert(ann, data, method="qcfs", timesteps=levels)
    assert report.layers[0].threshold == pytest.approx(1.5)
    assert report.layers[0].v_init == pytest.approx(0.75)
    x = data.tensors[0]
    snn_out = simulate(spec, x).output / levels  # u[T] / T is the ANN's output
    torch.testing.assert_close(snn_out, ann(x).detach(), rtol=1e-5, atol=1e-5)


def test_if_neuron_rate_matches_the_closed_form():
    x = torch.linspace(-1, 3, 401)
    for T in (1, 2, 5, 16):
        n = if_spike_counts(x, 1.0, T, v_init=0.5)
        expected = torch.clamp(torch.ceil(T * x + 0.5) - 1, 0, T)  # strict u > threshold
        assert torch.equal(n, expected)


def test_max_conversion_approaches_the_relu_ann_as_T_grows():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                        nn.Linear(32, 4))
    data = _data()
    x = data.tensors[0]
    target = ann(x).detach()
    errors = []
    for T in (4, 32, 256):
        spec, _ = convert(ann, data, method="max", timesteps=T)
        errors.append(float((simulate(spec, x).output / T - target).abs().mean()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05 * float(target.abs().mean())


def test_datta_search_beats_the_plain_clip_threshold_at_low_T():
    x = torch.randn(20_000).abs() * 1.5
    clip = 2.0
    a, b, err = datta_search(x, clip, timesteps=2)
    plain = ((x.clamp(0, clip) - clip * if_spike_counts(x, clip, 2) / 2) ** 2).mean()
    assert err < 0.5 * float(plain)
    assert 0 < a < 1.5 and 0 < b < 1.5


@pytest.mark.parametrize("method", METHODS)
def test_every_method_converts_a_zoo_cnn_with_bias_pooling_and_batch_norm(method):
    torch.manual_seed(0)
    ann = create_model("small_cnn", channels=(4, 8, 8), hidden=(16,), batch_norm=True,
                       activation={"datta": "clip", "qcfs": "qcfs"}.get(method, "relu"))
    ann.train()
    ann(torch.randn(32, 1, 8, 8))  # give batch norm real statistics
    ann.eval()
    data = TensorDataset(torch.randn(64, 1, 8, 8), torch.zeros(64, dtype=torch.long))
    spec, report = convert(ann, data, method=method, timesteps=2)
    kinds = [type(layer).__name__ for layer in spec.layers]
    assert kinds == ["Conv2d", "Conv2d", "AvgPool2d", "Conv2d", "AvgPool2d", "Flatten", "Linear",
                     "Linear"]
    assert all(layer.bias is not None for _, layer in spec.weighted_layers())
    assert [c.name for c in report.layers] == ["act1", "act2", "act3", "act4"]
    assert spec.metadata["converted_with"] == method
    assert spec.metadata["ann_builder"]["name"] == "small_cnn"
    out = simulate(spec, data.tensors[0][:4]).output
    assert out.shape == (4, 10) and torch.isfinite(out).all()


def test_the_clip_of_a_clipped_relu_sets_the_datta_scale():
    ann = nn.Sequential(nn.Linear(6, 8), ClippedReLU(init_clip=0.8), nn.Linear(8, 2))
    _, report = convert(ann, _data(), method="datta", timesteps=2)
    c = report.layers[0]
    assert c.clip == pytest.approx(0.8)
    assert c.threshold == pytest.approx(c.a * 0.8) and c.amplitude == pytest.approx(c.b * 0.8)


@pytest.mark.parametrize("model, culprit", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, padding=1), nn.Flatten(),
                   nn.Linear(32, 2)), r"layer '2' \(MaxPool2d\): padded or ceil-mode"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.AvgPool2d(1), nn.ReLU()),
     r"layer '2' \(AvgPool2d\): average pooling or flattening between"),
    (nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2)), r"layer '1' \(Tanh\)"),
    (nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Sequential(nn.LSTM(4, 4)), nn.Linear(4, 2)),
     r"layer '2.0' \(LSTM\): recurrent"),
    (nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU()),
     r"layer '3' \(ReLU\): the output layer must not have an activation"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.ReLU()),
     r"layer '1' \(AvgPool2d\): average pooling or flattening between"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2)),
     r"layer '0' \(Conv2d\): only groups=1"),
])
def test_unsupported_layers_are_named(model, culprit):
    with pytest.raises(ConfigError, match=culprit):
        convert(model, _data(features=6), method="max", timesteps=2)


def test_a_residual_block_without_an_output_layer_is_refused_clearly():
    """Residual networks convert to graph specs (tests/convert/test_residual.py); a block on
    its own ends in an activation, not in the logits."""
    block = create_model("resnet20", widths=(4, 4, 4)).stage1[0]
    data = TensorDataset(torch.randn(8, 4, 8, 8), torch.zeros(8, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"the output must be the last Conv/Linear layer"):
        convert(block, data)


def test_bad_arguments():
    ann = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ConfigError, match="unknown conversion method 'snn-toolbox'"):
        convert(ann, _data(), method="snn-toolbox")
    with pytest.raises(ConfigError, match="timesteps must be a positive integer"):
        convert(ann, _data(), timesteps=0)
    dead = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        dead[0].weight.zero_()
        dead[0].bias.fill_(-1.0)
    with pytest.raises(ConfigError, match=r"act|'1'.*dead layer|never exceed 0"):
        convert(dead, _data(), method="max")


def _max_pool_cnn(activation_first: bool, act=nn.ReLU):
    def block(cin, cout):
        conv, pool = nn.Conv2d(cin, cout, 3, padding=1), nn.MaxPool2d(2)
        return [conv, act(), pool] if activation_first else [conv, pool, act()]
    return nn.Sequential(*block(1, 4), *block(4, 8), nn.Flatten(), nn.Linear(32, 10))


@pytest.mark.parametrize("method", ["datta", "max"])
def test_max_pooling_before_or_after_the_activation_converts_to_pooling_of_spikes(method):
    """ReLU and max commute exactly, so both orders are one ANN and give one SNN; the neurons
    are calibrated on the convolution's output, what they will receive."""
    torch.manual_seed(0)
    act = ClippedReLU if method == "datta" else nn.ReLU
    after, before = _max_pool_cnn(True, act), _max_pool_cnn(False, act)
    with torch.no_grad():  # the same parameters, in the same module order
        for p, q in zip(before.parameters(), after.parameters(), strict=True):
            p.copy_(q)
    data = TensorDataset(torch.rand(64, 1, 8, 8), torch.zeros(64, dtype=torch.long))
    x = data.tensors[0]
    torch.testing.assert_close(before(x), after(x), rtol=0, atol=0)
    spec_a, report_a = convert(after, data, method=method, timesteps=2)
    spec_b, report_b = convert(before, data, method=method, timesteps=2)
    assert [type(layer).__name__ for layer in spec_a.layers] == [
        "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Flatten", "Linear"]
    assert spec_b.identical(spec_a)
    assert [c.threshold for c in report_b.layers] == [c.threshold for c in report_a.layers]
    if method == "max":  # the largest pre-activation of the conv, not of the pooled values
        conv_out = after[0](x)
        assert report_a.layers[0].threshold == pytest.approx(float(conv_out.max()))


def test_a_max_pooled_cnn_converts_well_above_chance_on_digits_at_t2():
    from leanspike.data import load_dataset
    from leanspike.training import TrainConfig, train_ann

    splits = load_dataset("digits")
    torch.manual_seed(0)
    ann = _max_pool_cnn(True, ClippedReLU)
    train_ann(ann, splits, TrainConfig(epochs=10, device="cpu"), progress=False)
    spec, _ = convert(ann, splits.train, method="datta", timesteps=2)
    x, y = splits.test.tensors
    accuracy = float((simulate(spec, x).output.argmax(1) == y).float().mean())
    assert accuracy > 0.8  # chance: 0.1
