"""snnTorch models as users write them, trained the snnTorch way, go through adoption, IIR
retraining to T=1, pruning and Lava unchanged; what adoption transforms is exact where it
claims to be."""

import runpy
import warnings
from pathlib import Path

import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from torch import nn

from leanspike.adapters.snntorch import SpecLeaky, evaluate_snn, prune, retrain, to_spec
from leanspike.adapters.snntorch.adopt import adopt, fold_avg_pool, read_model
from leanspike.errors import ConfigError
from leanspike.reference import simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bring_your_snntorch_model.py"
# the models as the example shows them to users: one definition, trained here the same way
users = runpy.run_path(str(EXAMPLE))
T, SHAPES, TutorialNet = users["num_steps"], users["SHAPES"], users["Net"]
train_the_snntorch_way, sequential_max_pool = users["train_the_snntorch_way"], \
    users["max_pool_model"]
sequential_batch_norm, _leaky = users["batch_norm_model"], users["leaky"]


@pytest.fixture(scope="module")
def trained(digits):
    """Each shape trained once, as its user would, with its accuracy as they measure it."""
    out = {}
    for name, build in SHAPES.items():
        torch.manual_seed(1)
        model = build()
        out[name] = (model, train_the_snntorch_way(model, digits, epochs=4))
    return out


def test_the_users_training_works_for_every_shape(trained):
    for name, (_, accuracy) in trained.items():
        assert accuracy > 0.6, name  # ten classes


@pytest.mark.parametrize("shape", list(SHAPES))
def test_adopted_then_retrained_to_T1_and_pruned(shape, trained, digits):
    model, _ = trained[shape]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reset timing, pooling of currents
        adopted = adopt(model, (1, 8, 8), T)
        at_T = evaluate_snn(adopted, digits.test).accuracy
        result = retrain(model, digits.train, digits.test, schedule=(T, 1), epochs_per_stage=2,
                         progress=False)
    assert at_T > 0.3, "adoption kept most of what the user trained"
    assert result.final.accuracy > 0.6 and result.final.spec.timesteps == 1
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.9, epochs=3,
                   progress=False)
    assert abs(pruned.sparsity - 0.9) < 0.02 and pruned.accuracy > 0.5
    # the user's model is never modified
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.lava
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_spike_agrees_on_lava(shape, trained, digits, lava_agrees):
    model, _ = trained[shape]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = retrain(model, digits.train, digits.test, schedule=(1,), epochs_per_stage=1,
                         progress=False)
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.9, epochs=2,
                   progress=False)
    lava_agrees(pruned.spec, digits)


def test_the_tutorial_class_is_read_as_its_computation():
    captured = read_model(TutorialNet())
    assert [s.name for s in captured.steps] == ["view", "fc1", "lif1", "fc2", "lif2"]
    assert captured.timesteps == T and not captured.per_step_input
    assert captured.reads == {"spikes", "membrane"}
    net = adopt(TutorialNet(), (1, 8, 8))
    assert net.timesteps == T  # the model's own loop length


def test_a_loop_over_x_t_reads_the_input_per_step():
    class PerStep(TutorialNet):
        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            out = []
            for step in range(T):
                spk1, mem1 = self.lif1(self.fc1(torch.flatten(x[step], 1)), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                out.append(mem2)
            return torch.stack(out)

    captured = read_model(PerStep())
    assert captured.per_step_input and captured.reads == {"membrane"}


def test_functional_calls_count_as_layers():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.lif1 = snn.Leaky(beta=0.5, init_hidden=True)
            self.fc = nn.Linear(4 * 4 * 4, 10)
            self.lif2 = snn.Leaky(beta=0.5, init_hidden=True, output=True)

        def forward(self, x):
            spk = self.lif1(self.conv(x))
            return self.lif2(self.fc(F.avg_pool2d(spk, 2).reshape(x.shape[0], -1)))

    net = adopt(Functional(), (1, 8, 8), 2)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Conv2d", "SpecLeaky", "AvgPool2d", "Flatten", "Linear", "SpecIntegrator"]
    to_spec(net)


@pytest.mark.parametrize(("model", "message"), [
    (nn.Sequential(nn.Linear(64, 8), nn.Tanh(), _leaky(), nn.Linear(8, 2), _leaky()),
     r"layer '1' \(Tanh\): not a layer"),
    (nn.Sequential(nn.Linear(64, 8), snn.RLeaky(beta=0.9, linear_features=8), nn.Linear(8, 2),
                   _leaky()), r"'1' \(RLeaky\): recurrent neurons are not feed-forward"),
    (nn.Sequential(nn.Linear(64, 8), snn.Alpha(alpha=0.9, beta=0.8), nn.Linear(8, 2),
                   _leaky()), r"'1' \(Alpha\): .*two opposing currents.*use snn.Synaptic"),
])
def test_what_cannot_be_read_is_refused_by_name(model, message):
    with pytest.raises(ConfigError, match=message):
        adopt(model, (64,), 2)


def test_data_dependent_control_flow_is_refused_with_advice():
    class Dynamic(TutorialNet):
        def forward(self, x):
            mem = self.lif1.init_leaky()
            for _ in range(x.size(0)):
                spk, mem = self.lif1(self.fc1(x.flatten(1)), mem)
            return spk

    with pytest.raises(ConfigError, match=r"cannot read Dynamic.forward .*num_steps"):
        adopt(Dynamic(), (1, 8, 8), 2)


def test_feedback_from_another_layer_is_refused():
    class Feedback(TutorialNet):
        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            for _ in range(2):
                spk1, mem1 = self.lif1(self.fc1(x.flatten(1)), mem2)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            return spk2

    with pytest.raises(ConfigError, match="lif1: its state comes from 'lif2'"):
        adopt(Feedback(), (1, 8, 8), 2)


def test_folding_average_pooling_into_the_conv_is_exact():
    torch.manual_seed(0)
    for stride, padding, pool in [(1, 1, 2), (1, 0, 3), (2, 1, 2)]:
        conv, avg = nn.Conv2d(3, 5, 3, stride=stride, padding=padding), nn.AvgPool2d(pool)
        x = torch.randn(4, 3, 13, 13)
        folded = fold_avg_pool(conv, avg, "test")
        assert torch.allclose(folded(x), avg(conv(x)), atol=1e-5), (stride, padding, pool)


@pytest.mark.parametrize("beta", [1.0, 0.8])  # IF and LIF
def test_max_pooling_of_currents_equals_pooling_of_spikes_at_T1(beta):
    """From v_init = 0 at T=1 the neuron is u = I, s = I > theta: a monotone step, so the max
    of the spikes is the spike of the max."""
    torch.manual_seed(0)
    current = torch.randn(16, 4, 8, 8) * 2
    neuron = SpecLeaky(beta, 0.5)
    pool = nn.MaxPool2d(2)
    pooled_first, _ = neuron(pool(current))
    spiked_first = pool(neuron(current)[0])
    assert torch.equal(pooled_first, spiked_first)


def test_max_pooling_moves_after_the_neuron_with_a_warning_for_T_above_1():
    with pytest.warns(RuntimeWarning, match="approximation at T=3"):
        net = adopt(sequential_max_pool(), (1, 8, 8), 3)
    assert [type(m).__name__ for m in net.layers[:3]] == ["Conv2d", "SpecLeaky", "MaxPool2d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        net = adopt(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), _leaky(reset_delay=False),
                                  nn.Flatten(), nn.Linear(18, 2), _leaky(output=True)),
                    (1, 8, 8), 1)  # T=1: exact, no warning


def test_batch_norm_is_trained_then_folded_exactly(digits):
    torch.manual_seed(0)
    model = sequential_batch_norm()
    bn = model[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net = adopt(model, (1, 8, 8), 2).eval()
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.layers)  # kept for training
    spec = to_spec(net)
    x = digits.test.tensors[0][:32]
    with torch.no_grad():
        ours = net.run(x)
    ref = simulate(spec, x)
    assert torch.allclose(ours.logits, ref.output, atol=1e-4)
    assert len(spec.layers) == 4  # conv (with the batch norm in it), pool, flatten, linear


class ConvTutorialNet(nn.Module):
    """snnTorch tutorial 6's CSNN at MNIST's 28x28 (narrower): conv 5x5, max pooling of
    currents, Leaky, twice, then a linear readout; a time loop with explicit membranes."""

    def __init__(self, steps: int = 2):
        super().__init__()
        self.steps = steps
        self.conv1, self.lif1 = nn.Conv2d(1, 4, 5), snn.Leaky(beta=0.5)
        self.conv2, self.lif2 = nn.Conv2d(4, 8, 5), snn.Leaky(beta=0.5)
        self.fc1, self.lif3 = nn.Linear(8 * 4 * 4, 10), snn.Leaky(beta=0.5)

    def forward(self, x):
        mem1, mem2, mem3 = (lif.init_leaky() for lif in (self.lif1, self.lif2, self.lif3))
        spk_rec = []
        for _ in range(self.steps):
            spk1, mem1 = self.lif1(F.max_pool2d(self.conv1(x), 2), mem1)
            spk2, mem2 = self.lif2(F.max_pool2d(self.conv2(spk1), 2), mem2)
            spk3, mem3 = self.lif3(self.fc1(spk2.flatten(1)), mem3)
            spk_rec.append(spk3)
        return torch.stack(spk_rec)


@pytest.fixture(scope="module")
def mnist_small():
    """A stratified slice of mnist5k (real MNIST at 28x28): its splits interleave the classes,
    so the first 600 training and 200 test images hold 60 and 20 of each digit."""
    from torch.utils.data import TensorDataset

    from leanspike.data import load_dataset

    full = load_dataset("mnist5k")
    head = lambda ds, n: TensorDataset(*(t[:n] for t in ds.tensors))  # noqa: E731
    return type(full)(head(full.train, 600), head(full.test, 200), full.info)


@pytest.mark.lava
def test_a_28x28_conv_tutorial_model_goes_to_lava(mnist_small):
    import snntorch.functional as SF
    from torch.utils.data import DataLoader

    from leanspike.adapters.lava import verify

    torch.manual_seed(0)
    model = ConvTutorialNet()
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=5e-3), SF.ce_rate_loss()
    for x, y in DataLoader(mnist_small.train, batch_size=64, shuffle=True):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = retrain(model, mnist_small.train, mnist_small.test, schedule=(2, 1),
                         epochs_per_stage=2, progress=False)
    assert result.network.input_shape == (1, 28, 28)
    assert result.final.accuracy > 0.5
    pruned = prune(result.network, mnist_small.train, mnist_small.test, target_sparsity=0.9,
                   epochs=2, progress=False)
    x = mnist_small.test.tensors[0][:6]
    report = verify(pruned.spec, x, backend="lava-fixed",
                    calibration=mnist_small.train.tensors[0][:200])
    assert report.agree, str(report)


def test_per_channel_thresholds_and_learnt_parameters_are_kept(digits):
    torch.manual_seed(0)
    threshold = torch.rand(4, 1, 1) + 0.5  # one per conv channel, broadcast as snnTorch does
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=0.8, threshold=threshold, learn_threshold=True, learn_beta=True,
                  init_hidden=True, reset_delay=False, graded_spikes_factor=0.5),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10), _leaky(output=True))
    net = adopt(model, (1, 8, 8), 2)
    neuron = net.layers[1]
    assert isinstance(neuron.threshold, nn.Parameter) and isinstance(neuron.beta, nn.Parameter)
    assert neuron.graded_spikes_factor == 0.5
    spec = to_spec(net)
    assert spec.layers[0].neuron.threshold.shape == (4, 8, 8)
    x = digits.test.tensors[0][:16]
    with torch.no_grad():
        ours = net.run(x)
    ref = simulate(spec, x)
    assert torch.allclose(ours.logits, ref.output, atol=1e-5)
    assert torch.equal(ours.spikes[0], ref.spikes[0])


def test_a_spike_count_loss_keeps_the_output_spiking_and_read_by_counts(trained, digits):
    """Trained with ce_rate_loss, the user's model is read as the user reads it: the output
    layer keeps spiking and its spike count is the output."""
    import snntorch.functional as SF

    model, users_accuracy = trained["tutorial-class"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        by_counts = adopt(model, (1, 8, 8), readout="spikes")
        by_membrane = adopt(model, (1, 8, 8))
    assert isinstance(by_counts.layers[-1], SpecLeaky)
    counts = evaluate_snn(by_counts, digits.test).accuracy
    assert abs(counts - users_accuracy) < 0.1  # only the reset timing differs
    spec = to_spec(by_counts)
    assert spec.spiking_readout
    x = digits.test.tensors[0][:20]
    with torch.no_grad():
        ours = by_counts.run(x)
    assert torch.equal(ours.logits, simulate(spec, x).output)
    with pytest.warns(RuntimeWarning, match="at T=1 a count takes only 2 values"):
        result = retrain(model, digits.train, digits.test, schedule=(T, 1), epochs_per_stage=2,
                         loss=SF.ce_rate_loss(), progress=False)
    assert isinstance(result.network.layers[-1], SpecLeaky) and result.final.accuracy > 0.5
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.8, epochs=2,
                   loss=SF.ce_rate_loss(), progress=False)
    assert pruned.spec.spiking_readout and pruned.accuracy > 0.4
    del by_membrane


def test_membrane_losses_read_the_integrating_output(trained, digits):
    import snntorch.functional as SF

    model, _ = trained["avg-pool"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = retrain(model, digits.train, digits.test, schedule=(2,), epochs_per_stage=1,
                         loss=SF.ce_max_membrane_loss(), progress=False)
    assert not result.final.spec.spiking_readout


def test_a_spike_loss_on_an_integrating_network_says_what_to_do(trained, digits):
    import snntorch.functional as SF

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net = adopt(trained["avg-pool"][0], (1, 8, 8), 2)
    with pytest.raises(ConfigError, match="ce_rate_loss reads the output layer's spikes.*"
                                          "readout='spikes'"):
        prune(net, digits.train, digits.test, loss=SF.ce_rate_loss(), epochs=1, progress=False)
