import pytest
import snntorch as snn
import torch

from leanspike.adapters.snntorch import FinetuneConfig, SpecLeaky, convert, to_spec
from leanspike.data import load_dataset
from leanspike.reference import simulate
from leanspike.training import TrainConfig, set_seed, train_ann
from leanspike.zoo import create_model


@pytest.fixture(scope="module")
def trained():
    splits = load_dataset("digits")
    set_seed(0)
    model = create_model("small_cnn", channels=(8, 16, 16), hidden=(32,), activation="clip")
    result = train_ann(model, splits, TrainConfig(epochs=12, device="cpu"), progress=False)
    return model, splits, result.test_accuracy


def test_datta_at_T2_is_close_to_the_ann_and_far_above_max(trained):
    model, splits, ann_accuracy = trained
    datta = convert(model, splits, method="datta", timesteps=2, device="cpu", progress=False,
                    finetune_epochs=0)
    plain = convert(model, splits, method="max", timesteps=2, device="cpu", progress=False)
    assert ann_accuracy > 0.9
    # a small, briefly trained model; benchmarks/conversion.py measures the full-size figures
    assert datta.converted_accuracy > ann_accuracy - 0.08
    assert datta.converted_accuracy > plain.converted_accuracy + 0.5
    assert datta.energy.ratio > 1 and datta.energy.spikes_per_inference > 0


def test_finetuning_trains_thresholds_and_keeps_the_spec_consistent(trained):
    model, splits, _ = trained
    out = convert(model, splits, method="datta", timesteps=2, device="cpu", progress=False,
                  finetune_epochs=FinetuneConfig(epochs=2, lr=3e-4, device="cpu"))
    assert out.accuracy > 0.85
    assert len(out.finetune.history) == 2
    before = [c.threshold for c in out.report.layers]
    after = [float(n.threshold) for n in out.network.modules() if isinstance(n, SpecLeaky)]
    assert after != pytest.approx(before)  # the thresholds learned
    x = splits.test.tensors[0][:32]
    with torch.no_grad():
        torch.testing.assert_close(out.network(x), simulate(out.spec, x).output,
                                   rtol=1e-5, atol=1e-4)
    assert to_spec(out.network.cpu()).identical(out.spec)
    assert out.metrics()["energy_model"].startswith("45nm")


def test_converted_model_runs_under_plain_snntorch_code(trained):
    """A hand-written snnTorch time loop over the converted modules gives the same logits."""
    model, splits, _ = trained
    net = convert(model, splits, method="qcfs", timesteps=3, device="cpu", progress=False).network
    x = splits.test.tensors[0][:16]
    layers = list(net.layers)
    mems = [m.init_leaky() if isinstance(m, snn.Leaky) else None for m in layers]
    with torch.no_grad():
        for _step in range(3):
            h = x
            for k, m in enumerate(layers):
                if isinstance(m, snn.Leaky):
                    h, mems[k] = m(h, mems[k])
                else:
                    h = m(h)
        torch.testing.assert_close(mems[-1], net(x))
    assert all(isinstance(m, snn.Leaky) for m in layers if "Spec" in type(m).__name__)
