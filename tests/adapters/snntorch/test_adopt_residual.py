"""Residual snnTorch models, written the snnTorch way (a time loop, explicit membranes), adopt
into graph specs in both residual styles: the shortcut adding to the current (spiking ResNet:
an Add that carries the neuron) and SEW ResNet's ADD of spike trains (an Add without one).
The adopted spec computes what the user's model computes, spike for spike."""

import warnings

import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from torch import nn

from leanspike import spec as S
from leanspike.adapters.snntorch import to_snntorch, to_spec
from leanspike.adapters.snntorch.adopt import adopt, read_model
from leanspike.errors import ConfigError
from leanspike.reference import simulate

T = 2


def _leaky(**kw) -> snn.Leaky:
    """Reset to zero, on the step it fires: what the spec computes, step for step (snnTorch's
    subtractive reset with reset_delay=False subtracts once more on the next step while the
    membrane stays above threshold, which the spec does not)."""
    return snn.Leaky(beta=kw.pop("beta", 0.9), threshold=kw.pop("threshold", 0.5),
                     reset_delay=False, reset_mechanism=kw.pop("reset_mechanism", "zero"), **kw)


class Stem(nn.Module):
    """What every model here shares: a stem conv + Leaky, and an avg-pool / flatten / linear
    readout whose Leaky never resets (its membrane is the logits)."""

    def __init__(self, width: int = 4, out_width: int = 4):
        super().__init__()
        self.stem, self.lif0 = nn.Conv2d(1, width, 3, padding=1), _leaky()
        self.fc, self.lif_out = nn.Linear(out_width * 4 * 4, 10), _leaky(reset_mechanism="none")

    def readout(self, spk, mem):
        return self.lif_out(self.fc(F.avg_pool2d(spk, 2).flatten(1)), mem)


class CurrentStyle(Stem):
    """cur = bn2(conv2(spk1)) + shortcut(spk0) (a 1x1 conv), or + spk0 (identity)."""

    def __init__(self, identity: bool = False):
        width = 4 if identity else 8
        super().__init__(4, width)
        self.conv1, self.lif1 = nn.Conv2d(4, width, 3, padding=1), _leaky()
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width)
        self.shortcut = None if identity else nn.Conv2d(4, width, 1)
        self.lif2 = _leaky()

    def forward(self, x):
        mem0, mem1, mem2, mem3 = (self.lif0.init_leaky() for _ in range(4))
        out = []
        for _ in range(T):
            spk0, mem0 = self.lif0(self.stem(x), mem0)
            spk1, mem1 = self.lif1(self.conv1(spk0), mem1)
            short = spk0 if self.shortcut is None else self.shortcut(spk0)
            cur = self.bn2(self.conv2(spk1)) + short
            spk2, mem2 = self.lif2(cur, mem2)
            _, mem3 = self.readout(spk2, mem3)
            out.append(mem3)
        return torch.stack(out)


class SEWStyle(Stem):
    """spk2 = lif2(bn2(conv2(spk1))); out = spk2 + spk0 feeds the readout."""

    def __init__(self):
        super().__init__(4, 4)
        self.conv1, self.lif1 = nn.Conv2d(4, 4, 3, padding=1), _leaky()
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.lif2 = _leaky()

    def forward(self, x):
        mem0, mem1, mem2, mem3 = (self.lif0.init_leaky() for _ in range(4))
        out = []
        for _ in range(T):
            spk0, mem0 = self.lif0(self.stem(x), mem0)
            spk1, mem1 = self.lif1(self.conv1(spk0), mem1)
            spk2, mem2 = self.lif2(self.bn2(self.conv2(spk1)), mem2)
            _, mem3 = self.readout(spk2 + spk0, mem3)
            out.append(mem3)
        return torch.stack(out)


def _model(cls, *args):
    torch.manual_seed(0)
    m = cls(*args)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.mul_(2.0)
            if isinstance(mod, nn.BatchNorm2d):  # statistics a trained model would have
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.3)
    return m.eval()


def their_run(model: nn.Module, x: torch.Tensor):
    """The user's own model: its logits (the last membrane) and every neuron's spikes [T, ...]."""
    spikes: dict[str, list[torch.Tensor]] = {}
    hooks = [m.register_forward_hook(
        lambda mod, args, out, name=name: spikes.setdefault(name, []).append(out[0]))
        for name, m in model.named_modules() if isinstance(m, snn.Leaky)]
    with torch.no_grad():
        mem = model(x)
    for h in hooks:
        h.remove()
    return mem[-1], {k: torch.stack(v) for k, v in spikes.items()}


@pytest.fixture(scope="module")
def x(digits):
    return digits.test.tensors[0][:32]


CASES = {
    "current-conv": (CurrentStyle, False),
    "current-identity": (CurrentStyle, True),
    "sew": (SEWStyle,),
}


def adopted_spec(case: str):
    model = _model(*CASES[case])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reset_delay=False: nothing to warn about
        net = adopt(model, (1, 8, 8))
    return model, net, to_spec(net)


@pytest.mark.parametrize("case", list(CASES))
def test_a_residual_model_becomes_the_graph_spec_of_its_style(case):
    _, net, spec = adopted_spec(case)
    assert spec.is_graph and spec.timesteps == T
    names = [layer.name for layer in spec.layers]
    adds = [(i, layer) for i, layer in enumerate(spec.layers) if isinstance(layer, S.Add)]
    assert len(adds) == 1
    i, add = adds[0]
    stem, conv2 = names.index("stem"), names.index("conv2")
    if case == "sew":
        assert add.neuron is None and add.name == "add"
        assert add.inputs == (conv2, stem)  # spikes + spikes, the readout gets the sum
        assert isinstance(spec.layers[conv2].neuron, S.LIF)
        assert spec.inputs_of(names.index("avg_pool2d")) == (i,)
    else:
        assert isinstance(add.neuron, S.LIF) and add.name == "add"
        assert spec.layers[conv2].neuron is None  # its current, bn2 folded in
        shortcut = names.index("shortcut") if case == "current-conv" else stem
        assert add.inputs == (conv2, shortcut)
        if case == "current-conv":
            assert spec.layers[shortcut].neuron is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in to_snntorch(spec).layers)
    assert names[-1] == "fc" and isinstance(spec.layers[-1].neuron, S.Integrator)
    spec.validate()


@pytest.mark.parametrize("case", list(CASES))
def test_the_adopted_spec_computes_what_the_users_model_computes(case, x):
    model, net, spec = adopted_spec(case)
    logits, theirs = their_run(model, x)
    ref = simulate(spec, x)
    torch.testing.assert_close(ref.output, logits, rtol=1e-5, atol=1e-5)
    names = [layer.name for layer in spec.layers]
    neuron_of = {"lif0": "stem", "lif1": "conv1", "lif2": "add" if case != "sew" else "conv2"}
    for lif, node in neuron_of.items():
        spikes = theirs[lif]
        assert spikes.sum() > 0, lif
        assert torch.equal(ref.spikes[names.index(node)], spikes), lif
    # the adopted network and the spec's snnTorch model run the same, spike for spike
    with torch.no_grad():
        ours, again = net.run(x), to_snntorch(spec).run(x)
    for run in (ours, again):
        torch.testing.assert_close(run.logits, ref.output, rtol=1e-5, atol=1e-5)
        assert run.spikes.keys() == ref.spikes.keys()
        for i, s in ref.spikes.items():
            assert torch.equal(run.spikes[i], s), i


def test_a_sum_of_three_branches_is_one_add():
    class Three(SEWStyle):
        def forward(self, x):
            mem0, mem1, mem2, mem3 = (self.lif0.init_leaky() for _ in range(4))
            for _ in range(T):
                spk0, mem0 = self.lif0(self.stem(x), mem0)
                spk1, mem1 = self.lif1(self.conv1(spk0), mem1)
                spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
                spk3, mem3 = self.readout(spk2 + spk1 + spk0, mem3)
            return mem3

    spec = to_spec(adopt(_model(Three), (1, 8, 8)))
    add = next(layer for layer in spec.layers if isinstance(layer, S.Add))
    assert len(add.inputs) == 3


@pytest.mark.parametrize("case", ["current-conv", "sew"])
def test_an_adopted_residual_model_retrains_and_prunes(case, digits):
    from leanspike.adapters.snntorch import prune, retrain

    model = _model(*CASES[case]).train()
    result = retrain(model, digits.train, digits.test, schedule=(T, 1), epochs_per_stage=1,
                     progress=False)
    assert result.final.spec.is_graph and result.final.spec.timesteps == 1
    pruned = prune(result.network, digits.train, digits.test, target_sparsity=0.5, epochs=1,
                   progress=False)
    assert pruned.spec.is_graph and abs(pruned.sparsity - 0.5) < 0.05


class Block(nn.Module):
    """A block module with init_hidden neurons: a strided, batch-normed 1x1 shortcut adds to
    the current of an snn.Synaptic."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout)
        self.lif1 = _leaky(init_hidden=True)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout)
        self.shortcut, self.bn_s = nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout)
        self.lif2 = snn.Synaptic(alpha=0.5, beta=0.9, threshold=0.5, init_hidden=True,
                                 reset_delay=False, reset_mechanism="zero")

    def forward(self, x):
        cur = self.bn2(self.conv2(self.lif1(self.bn1(self.conv1(x))))) + self.bn_s(self.shortcut(x))
        return self.lif2(cur)


class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.lif0 = nn.Conv2d(1, 4, 3, padding=1), _leaky(init_hidden=True)
        self.layer1 = nn.Sequential(Block(4, 4, 1), Block(4, 8, 2))
        self.fc = nn.Linear(8 * 2 * 2, 10)
        self.out = snn.Leaky(beta=0.9, init_hidden=True, output=True, reset_mechanism="none")

    def forward(self, x):
        for _ in range(3):
            _, mem = self.out(self.fc(F.avg_pool2d(self.layer1(self.lif0(self.stem(x))), 2)
                                      .flatten(1)))
        return mem


def test_block_modules_with_hidden_state_name_their_nodes_by_path(x):
    from snntorch import utils

    model = _model(Blocks)
    spec = to_spec(adopt(model, (1, 8, 8)))
    names = [layer.name for layer in spec.layers]
    assert names == ["stem", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.shortcut",
                     "layer1.0.add", "layer1.1.conv1", "layer1.1.conv2", "layer1.1.shortcut",
                     "layer1.1.add", "avg_pool2d", "flatten", "fc"]
    add = spec.layers[names.index("layer1.1.add")]
    assert add.inputs == (6, 7) and add.neuron.current_leak == 0.5
    assert spec.timesteps == 3
    utils.reset(model)
    with torch.no_grad():
        theirs = model(x)
    torch.testing.assert_close(simulate(spec, x).output, theirs, rtol=1e-5, atol=1e-5)


def test_a_shortcut_from_the_input_read_per_step_with_a_spiking_readout(x):
    """A 1x1 shortcut convolution on x[t] adds to the current; read by spike counts."""

    class FromInput(Stem):
        def __init__(self):
            super().__init__(4, 4)
            self.conv1, self.shortcut, self.lif1 = nn.Conv2d(4, 4, 3, padding=1), \
                nn.Conv2d(1, 4, 1), _leaky()

        def forward(self, x):
            mem0, mem1, mem3 = (self.lif0.init_leaky() for _ in range(3))
            out = []
            for t in range(T):
                spk0, mem0 = self.lif0(self.stem(x[t]), mem0)
                spk1, mem1 = self.lif1(self.conv1(spk0) + self.shortcut(x[t]), mem1)
                spk3, mem3 = self.readout(spk1, mem3)
                out.append(spk3)
            return torch.stack(out)

    model = _model(FromInput)
    net = adopt(model, (1, 8, 8), readout="spikes")
    assert net.metadata["adopted"] == {"reads": ["spikes"], "per_step_input": True}
    spec = to_spec(net)
    assert spec.spiking_readout and spec.layers[2].inputs == (S.INPUT,)
    with torch.no_grad():
        theirs = model(torch.stack([x] * T)).sum(0)
    assert torch.equal(simulate(spec, x).output, theirs)


def test_chains_are_read_as_before():
    captured = read_model(nn.Sequential(nn.Flatten(), nn.Linear(64, 8), _leaky(init_hidden=True),
                                        nn.Linear(8, 2), _leaky(init_hidden=True, output=True)))
    assert not captured.graph and all(s.inputs is None for s in captured.steps)


@pytest.mark.lava
@pytest.mark.parametrize("case", list(CASES))
def test_the_adopted_residual_spec_deploys_on_lava_bit_exactly(case, x):
    from leanspike.adapters.lava import verify

    _, _, spec = adopted_spec(case)
    report = verify(spec, x[:8], backend="lava-fast-fixed")
    assert report.agree, str(report)


class Refused(Stem):
    def __init__(self, body):
        super().__init__(4, 4)
        self.conv1, self.lif1 = nn.Conv2d(4, 4, 3, padding=1), _leaky()
        self.conv2, self.lif2 = nn.Conv2d(4, 4, 3, padding=1), _leaky()
        self.body = body

    def forward(self, x):
        mem0, mem1, mem2, mem3 = (self.lif0.init_leaky() for _ in range(4))
        for _ in range(T):
            spk0, mem0 = self.lif0(self.stem(x), mem0)
            spk1, mem1 = self.lif1(self.conv1(spk0), mem1)
            h, mem2 = self.body(self, x, spk0, spk1, mem2)
            spk3, mem3 = self.readout(h, mem3)
        return mem3


def _current_plus_spikes(self, x, spk0, spk1, mem2):
    return self.conv2(spk1) + spk0, mem2  # no neuron integrates the sum


def _input_plus_spikes(self, x, spk0, spk1, mem2):
    spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
    return spk2 + x, mem2


def _product(self, x, spk0, spk1, mem2):
    spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
    return spk2 * spk0, mem2


def _max_pool_in_the_sum(self, x, spk0, spk1, mem2):
    cur = F.max_pool2d(self.conv2(spk1), 1) + spk0
    return self.lif2(cur, mem2)


def _max_pool_of_a_sum(self, x, spk0, spk1, mem2):
    spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
    return F.max_pool2d(spk2 + spk0, 1), mem2


def _constant(self, x, spk0, spk1, mem2):
    spk2, mem2 = self.lif2(self.conv2(spk1) + 0.5, mem2)
    return spk2, mem2


def _membrane(self, x, spk0, spk1, mem2):
    spk2, mem2 = self.lif2(self.conv2(spk1), mem2)
    return spk2 + mem2, mem2


@pytest.mark.parametrize(("body", "message"), [
    (_current_plus_spikes, r"'add' \(a \+ b\): adds the current of 'conv2'.*no neuron "
                           r"integrates the sum"),
    (_input_plus_spikes, r"adds the model's analog input to spikes"),
    (_product, r"mul.*multiplying, dividing or subtracting layer outputs cannot be read"),
    (_max_pool_in_the_sum, r"'max_pool2d': max pooling of currents inside a residual sum"),
    (_max_pool_of_a_sum, r"'max_pool2d.*': max pooling of a sum of spike trains"),
    (_constant, r"add \(conv2 \+ 0.5\): a sum the network spec cannot hold"),
    (_membrane, r"add: reads the state \(membrane\) of 'lif2' as data"),
])
def test_what_a_graph_spec_cannot_hold_is_refused_by_name(body, message):
    with pytest.raises(ConfigError, match=message):
        adopt(Refused(body), (1, 8, 8))


def test_a_sum_of_different_shapes_is_refused_naming_the_layers():
    class Wrong(SEWStyle):
        def __init__(self):
            super().__init__()
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1, stride=2)  # 4x4, the shortcut 8x8

    with pytest.raises(ConfigError, match=r"Add 'add'.*inputs differ in shape"):
        adopt(_model(Wrong), (1, 8, 8))
