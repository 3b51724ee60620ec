import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from leanspike import spec as S
from leanspike.errors import SpecError, SpecFileError


def _rewrite_json(folder, edit):
    path = folder / S.SPEC_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


# --- round trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_round_trip_is_bit_exact(tmp_path, make_conv_spec, per_neuron, reset):
    spec = make_conv_spec(per_neuron=per_neuron, reset=reset)
    spec.save(tmp_path / "s")
    back = S.load_spec(tmp_path / "s")
    assert back.identical(spec)
    # and the bytes on disk are stable: saving the loaded spec gives the same files
    back.save(tmp_path / "t")
    for name in (S.SPEC_FILE, S.WEIGHTS_FILE):
        assert (tmp_path / "s" / name).read_bytes() == (tmp_path / "t" / name).read_bytes()


def test_round_trip_keeps_dtypes_masks_and_metadata(tmp_path, make_conv_spec):
    spec = make_conv_spec()
    spec.layers[2].mask = spec.layers[2].mask.to(torch.bool)
    spec.layers[4].weight = spec.layers[4].weight.to(torch.float64)
    spec.layers[4].bias = spec.layers[4].bias.to(torch.float64)
    spec.metadata = {"source": "unit test", "nested": {"a": [1, 2.5, None]}}
    back = S.load_spec(spec.save(tmp_path / "s"))
    assert back.layers[2].mask.dtype == torch.bool
    assert back.layers[4].weight.dtype == torch.float64
    assert back.metadata == spec.metadata
    assert back.identical(spec)


def test_identical_detects_a_single_flipped_bit(make_conv_spec):
    a, b = make_conv_spec(), make_conv_spec()
    assert a.identical(b)
    w = b.layers[0].weight.view(-1).view(torch.int32)
    w[5] ^= 1
    assert not a.identical(b)


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    timesteps=st.integers(1, 8),
    threshold=st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False),
    leak=st.floats(0.0, 1.0),
    v_init=st.floats(-10, 10, allow_nan=False),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_mlp_specs_round_trip(tmp_path_factory, widths, timesteps, threshold, leak,
                                     v_init, seed):
    g = torch.Generator().manual_seed(seed)
    sizes = [3, *widths]
    layers = []
    for k in range(len(sizes) - 1):
        last = k == len(sizes) - 2
        neuron = (S.Integrator(leak=leak, v_init=v_init) if last
                  else S.LIF(threshold=threshold, leak=leak, v_init=v_init))
        mask = (torch.rand(sizes[k + 1], sizes[k], generator=g) > 0.5).float() if k % 2 else None
        layers.append(S.Linear(torch.randn(sizes[k + 1], sizes[k], generator=g), None, mask,
                               neuron))
    spec = S.NetworkSpec((3,), layers, timesteps)
    folder = tmp_path_factory.mktemp("spec")
    assert S.load_spec(spec.save(folder)).identical(spec)


def test_layer_shapes_chain(make_conv_spec):
    shapes = make_conv_spec().layer_shapes()
    assert shapes == [(4, 8, 8), (4, 4, 4), (6, 4, 3), (72,), (16,), (10,)]


# --- validation of specs built in memory --------------------------------------------------------

def test_validation_names_layer_and_field(make_conv_spec):
    spec = make_conv_spec()
    spec.layers[4].weight = torch.randn(16, 71)
    with pytest.raises(SpecError, match=r"layers\[4\] \(Linear\)\.weight.*71 inputs.*gives 72"):
        spec.validate()


@pytest.mark.parametrize("mutate, pattern", [
    (lambda s: setattr(s.layers[0], "weight", torch.full((4, 1, 3, 3), float("nan"))),
     r"layers\[0\] \(Conv2d\)\.weight: 36 non-finite"),
    (lambda s: setattr(s.layers[0].neuron, "threshold", 0.0),
     r"layers\[0\] \(Conv2d\)\.neuron\.threshold: must be > 0"),
    (lambda s: setattr(s.layers[0].neuron, "threshold", torch.ones(3, 8, 8)),
     r"neuron\.threshold: shape \(3, 8, 8\) does not broadcast"),
    (lambda s: setattr(s.layers[0].neuron, "reset", "hard"), r"neuron\.reset: must be one of"),
    (lambda s: setattr(s.layers[0].neuron, "leak", 1.5), r"neuron\.leak: must be <= 1"),
    (lambda s: setattr(s.layers[2], "mask", torch.full((6, 4, 3, 2), 0.5)),
     r"layers\[2\] \(Conv2d\)\.mask: values must be 0 or 1"),
    (lambda s: setattr(s.layers[2], "mask", torch.ones(6, 4, 3, 3)), r"mask: shape"),
    (lambda s: setattr(s.layers[4], "bias", torch.zeros(15)), r"layers\[4\] \(Linear\)\.bias"),
    (lambda s: setattr(s.layers[5], "neuron", None), r"last weighted layer must have an "
                                                      r"Integrator neuron .* or a LIF"),
    (lambda s: setattr(s.layers[4], "neuron", S.Integrator()), r"must have a LIF neuron"),
    (lambda s: setattr(s.layers[4], "neuron", None), r"must have a LIF neuron"),
    (lambda s: s.layers.append(S.Flatten()), r"layers\[6\] \(Flatten\)"),
    (lambda s: s.layers.pop(3), r"layers\[3\] \(Linear\): needs a flat input"),
    (lambda s: setattr(s, "timesteps", 0), r"spec\.timesteps"),
    (lambda s: setattr(s, "encoding", "rate"), r"spec\.encoding"),
    (lambda s: setattr(s, "input_shape", (2, 8, 8)), r"layers\[0\] \(Conv2d\)\.weight.*1 input "
                                                     r"channels"),
    (lambda s: setattr(s.layers[1], "kernel_size", (9, 9)), r"layers\[1\] \(AvgPool2d\)"),
    (lambda s: setattr(s.layers[0], "stride", (0, 1)), r"layers\[0\] \(Conv2d\)\.stride"),
    (lambda s: s.layers.insert(0, "conv"), r"layers\[0\] \(str\): unknown layer type"),
])
def test_validation_rejects(make_conv_spec, mutate, pattern):
    spec = make_conv_spec()
    mutate(spec)
    with pytest.raises(SpecError, match=pattern):
        spec.validate()


def test_invalid_spec_is_not_saved_and_old_files_survive(tmp_path, make_conv_spec):
    good = make_conv_spec()
    good.save(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = make_conv_spec(seed=1)
    bad.layers[0].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(SpecError):
        bad.save(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert S.load_spec(tmp_path).identical(good)


# --- corrupt files on disk ----------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path, make_conv_spec):
    folder = tmp_path / "spec"
    make_conv_spec(per_neuron=True).save(folder)
    return folder


def test_truncated_json(saved):
    path = saved / S.SPEC_FILE
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SpecFileError, match=r"spec\.json: not valid JSON.*truncated or corrupt"):
        S.load_spec(saved)


def test_truncated_weights(saved):
    path = saved / S.WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SpecFileError, match=r"weights\.safetensors: sha256"):
        S.load_spec(saved)


def test_weights_replaced_with_consistent_hash_but_wrong_shape(saved, make_conv_spec):
    """A file whose hash matches but whose tensor has the wrong shape is still caught."""
    from safetensors.torch import load, save

    tensors = load((saved / S.WEIGHTS_FILE).read_bytes())
    tensors["layers.4.weight"] = torch.zeros(16, 70)
    data = save(tensors)
    (saved / S.WEIGHTS_FILE).write_bytes(data)
    import hashlib
    _rewrite_json(saved, lambda d: d.update(weights_sha256=hashlib.sha256(data).hexdigest()))
    with pytest.raises(SpecFileError, match=r"layers\[4\] \(Linear\)\.weight: shape \(16, 70\)"):
        S.load_spec(saved)


def test_nan_weight_on_disk(saved):
    import hashlib

    from safetensors.torch import load, save

    tensors = load((saved / S.WEIGHTS_FILE).read_bytes())
    tensors["layers.0.weight"][0, 0, 1, 1] = float("nan")
    data = save(tensors)
    (saved / S.WEIGHTS_FILE).write_bytes(data)
    _rewrite_json(saved, lambda d: d.update(weights_sha256=hashlib.sha256(data).hexdigest()))
    with pytest.raises(SpecFileError, match=r"layers\[0\] \(Conv2d\)\.weight: 1 non-finite"):
        S.load_spec(saved)


def test_nan_literal_in_json(saved):
    path = saved / S.SPEC_FILE
    path.write_text(path.read_text().replace('"leak": 0.875', '"leak": NaN', 1))
    with pytest.raises(SpecFileError, match="non-finite number NaN"):
        S.load_spec(saved)


@pytest.mark.parametrize("edit, pattern", [
    (lambda d: d["layers"][1].update(type="MaxPool3d"),
     r"layers\[1\]\.type: unknown layer type 'MaxPool3d'"),
    (lambda d: d["layers"][0]["neuron"].update(type="Izhikevich"),
     r"layers\[0\] \(Conv2d\)\.neuron\.type: unknown neuron type"),
    (lambda d: d.update(format_version=S.FORMAT_VERSION + 1),
     rf"version {S.FORMAT_VERSION + 1} was written by a newer leanspike"),
    (lambda d: d.update(format="something.else"), r"not a leanspike spec"),
    (lambda d: d.pop("timesteps"), r"missing field 'timesteps'"),
    (lambda d: d["layers"][0].pop("stride"), r"layers\[0\] \(Conv2d\): missing field 'stride'"),
    (lambda d: d["layers"][0].update(weight={"tensor": "nope"}),
     r"layers\[0\] \(Conv2d\)\.weight: tensor 'nope' is not in"),
    (lambda d: d["layers"][0]["neuron"].update(leak="high"), r"neuron\.leak: expected a number"),
    (lambda d: d["layers"][0]["neuron"].update(colour=3), r"unknown field\(s\) \['colour'\]"),
    (lambda d: d["layers"][5].update(neuron=None), r"last weighted layer must have an Integrator"),
    (lambda d: d.update(timesteps=-1), r"spec\.timesteps"),
    (lambda d: d["layers"][1].update(kernel_size=[2]), r"layers\[1\] \(AvgPool2d\)\.kernel_size"),
])
def test_corrupt_json_fields(saved, edit, pattern):
    _rewrite_json(saved, edit)
    with pytest.raises(SpecFileError, match=pattern) as info:
        S.load_spec(saved)
    assert str(saved) in str(info.value)  # names the file


def test_unreferenced_tensor_is_rejected(saved):
    _rewrite_json(saved, lambda d: d["layers"][0].update(bias=None))
    with pytest.raises(SpecFileError, match=r"not referenced by the spec: \['layers\.0\.bias'\]"):
        S.load_spec(saved)


def test_missing_files_and_folder(tmp_path, saved):
    with pytest.raises(SpecFileError, match="no such spec folder"):
        S.load_spec(tmp_path / "nowhere")
    (saved / S.WEIGHTS_FILE).unlink()
    with pytest.raises(SpecFileError, match=r"weights\.safetensors: missing"):
        S.load_spec(saved)


def test_garbage_weights_file(saved):
    import hashlib

    data = b"\x00" * 64
    (saved / S.WEIGHTS_FILE).write_bytes(data)
    _rewrite_json(saved, lambda d: d.update(weights_sha256=hashlib.sha256(data).hexdigest()))
    with pytest.raises(SpecFileError, match="unreadable safetensors"):
        S.load_spec(saved)


def test_save_leaves_no_temporary_files(tmp_path, make_conv_spec):
    make_conv_spec().save(tmp_path)
    make_conv_spec(seed=3).save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [S.SPEC_FILE, S.WEIGHTS_FILE]
    assert S.load_spec(tmp_path).identical(make_conv_spec(seed=3))


# --- max pooling and the format version ---------------------------------------------------------

def test_max_pooling_round_trips_bit_for_bit_as_format_version_2(tmp_path, make_maxpool_spec):
    spec = make_maxpool_spec()
    assert spec.layer_shapes() == [(4, 8, 8), (4, 4, 4), (6, 4, 4), (6, 2, 2), (24,), (10,)]
    back = S.load_spec(spec.save(tmp_path / "s"))
    assert back.identical(spec)
    assert isinstance(back.layers[3], S.MaxPool2d) and back.layers[3].stride == (1, 1)
    doc = json.loads((tmp_path / "s" / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 2
    assert doc["layers"][1] == {"type": "MaxPool2d", "kernel_size": [2, 2], "stride": [2, 2]}
    back.save(tmp_path / "t")
    for name in (S.SPEC_FILE, S.WEIGHTS_FILE):
        assert (tmp_path / "s" / name).read_bytes() == (tmp_path / "t" / name).read_bytes()


def test_a_spec_without_max_pooling_is_still_written_as_version_1(tmp_path, make_conv_spec):
    # version 1 files are what earlier releases wrote and read: the same bytes come out
    make_conv_spec().save(tmp_path)
    assert json.loads((tmp_path / S.SPEC_FILE).read_text())["format_version"] == 1


def test_a_version_1_document_cannot_hold_max_pooling(tmp_path, make_maxpool_spec):
    make_maxpool_spec().save(tmp_path)
    _rewrite_json(tmp_path, lambda d: d.update(format_version=1))
    with pytest.raises(SpecFileError, match=r"layers\[1\] \(MaxPool2d\)\.type: MaxPool2d layers "
                                            r"exist from format_version 2"):
        S.load_spec(tmp_path)


def test_spiking_layers_are_lif_layers_and_max_pooling_of_spikes(make_maxpool_spec):
    spec = make_maxpool_spec()
    assert spec.spiking_layers() == [0, 1, 2, 3]
    spec.layers.insert(0, S.MaxPool2d((1, 1), (1, 1)))  # of the analog input: not spikes
    spec.layers.insert(2, S.AvgPool2d((1, 1), (1, 1)))
    spec.layers.insert(3, S.MaxPool2d((1, 1), (1, 1)))  # of averaged spikes: not spikes
    assert spec.validate().spiking_layers() == [1, 5, 6]


@pytest.mark.parametrize("mutate, pattern", [
    (lambda s: setattr(s.layers[3], "kernel_size", (5, 5)),
     r"layers\[3\] \(MaxPool2d\)\.kernel_size: \(5, 5\) larger than the input \(4, 4\)"),
    (lambda s: setattr(s.layers[1], "stride", (0, 2)), r"layers\[1\] \(MaxPool2d\)\.stride"),
    (lambda s: setattr(s.layers[1], "kernel_size", 2), r"layers\[1\] \(MaxPool2d\)\.kernel_size: "
                                                      r"expected a pair"),
    (lambda s: s.layers.insert(5, S.MaxPool2d()), r"layers\[5\] \(MaxPool2d\): needs a \(C, H, "
                                                  r"W\) input, got shape \(24,\)"),
    (lambda s: setattr(s.layers[1], "neuron", S.LIF()), r"layers\[1\] \(MaxPool2d\): only Linear,"
                                                        r" convolution and Add layers carry "
                                                        r"neurons"),
])
def test_max_pooling_validation_names_layer_and_field(make_maxpool_spec, mutate, pattern):
    spec = make_maxpool_spec()
    mutate(spec)
    with pytest.raises(SpecError, match=pattern):
        spec.validate()


def test_max_pooling_fields_on_disk_are_checked(tmp_path, make_maxpool_spec):
    make_maxpool_spec().save(tmp_path)
    _rewrite_json(tmp_path, lambda d: d["layers"][1].pop("stride"))
    with pytest.raises(SpecFileError, match=r"layers\[1\] \(MaxPool2d\): missing field 'stride'"):
        S.load_spec(tmp_path)


def test_a_spiking_readout_is_its_spike_count_and_format_version_3(tmp_path):
    """A LIF output layer: the output is sum_t amplitude * s[t]; written as format version 3,
    read back bit for bit; a spec with an integrating output still writes version 1."""
    import json

    from leanspike.reference import simulate

    g = torch.Generator().manual_seed(0)
    spec = S.NetworkSpec((12,), [
        S.Linear(torch.randn(8, 12, generator=g), None, None, S.LIF(threshold=0.5)),
        S.Linear(torch.randn(3, 8, generator=g), None, None,
                 S.LIF(threshold=0.3, amplitude=0.5))], timesteps=4).validate()
    assert spec.spiking_readout
    x = torch.randn(5, 12, generator=g)
    result = simulate(spec, x)
    assert torch.equal(result.output, result.spikes[1].sum(0) * 0.5)
    path = spec.save(tmp_path / "spiking")
    assert json.loads((path / "spec.json").read_text())["format_version"] == 3
    assert S.load_spec(path).identical(spec)
    spec.layers[1].neuron = S.Integrator()
    assert not spec.spiking_readout
    plain = spec.save(tmp_path / "plain")
    assert json.loads((plain / "spec.json").read_text())["format_version"] == 1


# --- current-based neurons (current_leak, format version 4) -------------------------------------

def _synaptic_spec(current_leak=0.5, out_leak=0.0):
    g = torch.Generator().manual_seed(1)
    return S.NetworkSpec((6,), [
        S.Linear(torch.randn(5, 6, generator=g), torch.randn(5, generator=g), None,
                 S.LIF(threshold=0.7, leak=0.9, current_leak=current_leak)),
        S.Linear(torch.randn(3, 5, generator=g), None, None,
                 S.Integrator(leak=0.8, current_leak=out_leak))], timesteps=5).validate()


def test_a_current_leak_is_written_as_format_version_4_and_read_back(tmp_path):
    spec = _synaptic_spec(0.5, 0.25)
    path = spec.save(tmp_path / "s")
    doc = json.loads((path / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 4
    assert doc["layers"][0]["neuron"]["current_leak"] == 0.5
    back = S.load_spec(path)
    assert back.identical(spec) and back.layers[1].neuron.current_leak == 0.25
    back.save(tmp_path / "t")
    assert (tmp_path / "t" / S.SPEC_FILE).read_bytes() == (path / S.SPEC_FILE).read_bytes()


def test_no_current_leak_writes_no_field_and_the_old_version(tmp_path):
    path = _synaptic_spec(0.0, 0.0).save(tmp_path / "s")
    doc = json.loads((path / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 1
    assert all("current_leak" not in (e.get("neuron") or {}) for e in doc["layers"])


def test_a_current_leak_in_an_older_version_is_refused(tmp_path):
    _synaptic_spec().save(tmp_path)
    _rewrite_json(tmp_path, lambda d: d.update(format_version=3, weights_sha256=d[
        "weights_sha256"]))
    with pytest.raises(SpecFileError, match=r"current_leak.*format_version 4"):
        S.load_spec(tmp_path)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_current_leak_is_validated(bad):
    spec = _synaptic_spec()
    spec.layers[0].neuron.current_leak = bad
    with pytest.raises(SpecError, match=r"layers\[0\] \(Linear\)\.neuron\.current_leak"):
        spec.validate()


# --- snnTorch Leaky's other options: per-neuron leaks, reset "none" (format version 5) ----------

def test_per_neuron_leaks_and_reset_none_are_format_version_5_and_read_back(tmp_path):
    spec = _synaptic_spec(0.0)
    spec.layers[0].neuron.leak = torch.linspace(0.5, 1.0, 5)
    spec.layers[0].neuron.reset = "none"
    spec.layers[1].neuron.leak = torch.tensor([0.25, 0.5, 1.0])
    spec.validate()
    path = spec.save(tmp_path / "s")
    doc = json.loads((path / S.SPEC_FILE).read_text())
    assert doc["format_version"] == 5
    assert doc["layers"][0]["neuron"]["leak"] == {"tensor": "layers.0.neuron.leak"}
    back = S.load_spec(path)
    assert back.identical(spec) and back.layers[0].neuron.reset == "none"
    assert torch.equal(back.layers[1].neuron.leak, torch.tensor([0.25, 0.5, 1.0]))


@pytest.mark.parametrize("change", ["leak", "reset"])
def test_each_option_alone_needs_version_5_and_an_older_file_is_refused(tmp_path, change):
    spec = _synaptic_spec(0.0)
    if change == "leak":
        spec.layers[0].neuron.leak = torch.full((5,), 0.75)
    else:
        spec.layers[0].neuron.reset = "none"
    path = spec.save(tmp_path)
    assert json.loads((path / S.SPEC_FILE).read_text())["format_version"] == 5
    _rewrite_json(tmp_path, lambda d: d.update(format_version=4))
    want = r"leak: per-neuron leaks exist from" if change == "leak" else r"reset 'none' exists"
    with pytest.raises(SpecFileError, match=want + r".*format_version 5"):
        S.load_spec(tmp_path)


@pytest.mark.parametrize("bad, match", [(torch.tensor([0.5, 1.5, 0.5, 0.5, 0.5]), r"\[0, 1\]"),
                                        (torch.full((4,), 0.5), "does not broadcast"),
                                        (torch.tensor([0.5, float("nan"), 0.5, 0.5, 0.5]),
                                         "")])
def test_a_per_neuron_leak_is_validated(bad, match):
    spec = _synaptic_spec(0.0)
    spec.layers[0].neuron.leak = bad
    with pytest.raises(SpecError, match=r"layers\[0\] \(Linear\)\.neuron\.leak.*" + match):
        spec.validate()
