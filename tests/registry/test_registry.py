import json
import sqlite3

import pytest
import torch

from leanspike.adapters.snntorch import to_snntorch
from leanspike.errors import EntryNotFoundError, RegistryError
from leanspike.reference import simulate
from leanspike.registry import ArtifactError, Registry, default_path, resolve_spec


def _flip_byte(path, offset=-1):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_ann_and_snn_round_trip_bit_exact(registry, tiny_ann, tiny_spec):
    ann = registry.register("digits", tiny_ann, metrics={"accuracy": 0.97})
    spec = tiny_spec()
    snn = registry.register("digits", spec, parent=ann, metrics={"accuracy": 0.95},
                            params={"method": "datta", "timesteps": 2}, tags=["T2"])
    assert (ann.ref, ann.stage, ann.kind, ann.timesteps) == ("digits:1", "ann", "ann", None)
    assert (snn.ref, snn.stage, snn.parent, snn.timesteps) == ("digits:2", "snn", "digits:1", 2)
    loaded = registry.load("digits:1")
    for (k, a), (k2, b) in zip(tiny_ann.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert loaded.leanspike_config == tiny_ann.leanspike_config
    assert registry.load(snn).identical(spec)
    again = Registry(registry.path).get("digits:2")  # a fresh handle reads the same record
    assert again == snn and again.params == {"method": "datta", "timesteps": 2}


def test_references_resolve(registry, tiny_ann, tiny_spec):
    registry.register("m", tiny_ann)
    registry.register("m", tiny_spec(), stage="snn")
    registry.register("m", tiny_spec(1), stage="pruned")
    registry.register("m", tiny_spec(2), stage="snn")
    assert registry.get("m").version == 4
    assert registry.get("m@latest").version == 4
    assert registry.get("m@snn").version == 4
    assert registry.get("m@ann").version == 1
    assert registry.get("m@pruned").version == 3
    assert registry.get("m:2").version == 2
    with pytest.raises(EntryNotFoundError, match=r"no entry m:9 .* names here: m"):
        registry.get("m:9")
    with pytest.raises(EntryNotFoundError, match="no entry other@latest"):
        registry.get("other")


def test_lineage_of_a_five_stage_chain(registry, tiny_ann, tiny_spec):
    parent = registry.register("vgg", tiny_ann)
    stages = ["snn", "retrained", "pruned", "quantized"]
    for i, stage in enumerate(stages):
        parent = registry.register("vgg", tiny_spec(i, timesteps=max(1, 2 - i)), stage=stage,
                                   parent=parent)
    registry.register("other", tiny_spec(9))  # unrelated entries stay out of the chain
    chain = registry.lineage("vgg@quantized")
    assert [e.stage for e in chain] == ["quantized", "pruned", "retrained", "snn", "ann"]
    assert [e.ref for e in chain] == ["vgg:5", "vgg:4", "vgg:3", "vgg:2", "vgg:1"]
    assert chain[-1].parent is None
    assert [c.ref for c in registry.children("vgg:2")] == ["vgg:3"]


def test_list_filters_and_tags(registry, tiny_ann, tiny_spec):
    registry.register("a", tiny_ann, tags=["baseline"])
    registry.register("a", tiny_spec(), tags=["T2", "demo"])
    registry.register("b", tiny_spec(1))
    assert [e.ref for e in registry.list()] == ["a:1", "a:2", "b:1"]
    assert [e.ref for e in registry.list(name="a", kind="snn")] == ["a:2"]
    assert [e.ref for e in registry.list(stage="snn")] == ["a:2", "b:1"]
    assert [e.ref for e in registry.list(tag="demo")] == ["a:2"]
    assert registry.tag("b:1", "deployed", "demo").tags == ("demo", "deployed")
    assert registry.untag("b:1", "demo").tags == ("deployed",)
    with pytest.raises(RegistryError, match="invalid tag"):
        registry.tag("b:1", "no spaces")


def test_delete_refuses_while_children_exist(registry, tiny_ann, tiny_spec):
    root = registry.register("m", tiny_ann)
    child = registry.register("m", tiny_spec(), parent=root)
    registry.register("m", tiny_spec(1), parent=child, stage="pruned")
    with pytest.raises(RegistryError, match=r"m:1 has descendants \(m:2, m:3\)"):
        registry.delete("m:1")
    assert len(registry.list()) == 3
    removed = registry.delete("m:1", force=True)
    assert [e.ref for e in removed] == ["m:1", "m:2", "m:3"]
    assert registry.list() == []
    assert registry.verify().unreferenced_files == 6  # 3 entries x 2 files, left for gc
    assert registry.gc() == []  # within the grace period a concurrent writer may need them
    assert len(registry.gc(grace_seconds=0)) == 6
    assert registry.verify().unreferenced_files == 0


def test_flipped_byte_is_caught_by_load_and_verify(registry, tiny_spec):
    entry = registry.register("m", tiny_spec())
    assert registry.verify().ok
    weights = registry.store.path(entry.artifacts["weights.safetensors"])
    _flip_byte(weights, offset=200)
    with pytest.raises(ArtifactError, match=rf"m:1 weights\.safetensors: artifact file "
                                            rf"{weights} is corrupt"):
        registry.load("m:1")
    report = registry.verify()
    assert not report.ok
    assert report.problems == [("m:1", "weights.safetensors", str(weights),
                                "corrupt (sha256 mismatch)")]


def test_missing_artifact_is_named(registry, tiny_ann):
    entry = registry.register("m", tiny_ann)
    path = registry.store.path(entry.artifacts["model.json"])
    path.unlink()
    with pytest.raises(ArtifactError, match=rf"m:1 model\.json: artifact file {path} is missing"):
        registry.load("m")
    assert registry.verify().problems[0][3] == "missing"


def test_shared_artifacts_are_stored_once(registry, tiny_spec):
    a = registry.register("m", tiny_spec())
    b = registry.register("n", tiny_spec())
    assert a.artifacts == b.artifacts
    assert len(registry.store.all()) == 2


def test_bad_input_is_refused_and_nothing_is_stored(registry, tiny_spec):
    for bad_name in ["../x", "", "a/b", ".git"]:
        with pytest.raises(RegistryError, match="invalid name"):
            registry.register(bad_name, tiny_spec())
    with pytest.raises(RegistryError, match="invalid stage"):
        registry.register("m", tiny_spec(), stage="../pruned")
    with pytest.raises(RegistryError, match="metrics must be JSON-serialisable"):
        registry.register("m", tiny_spec(), metrics={"accuracy": float("nan")})
    with pytest.raises(RegistryError, match="can register a NetworkSpec or a zoo nn.Module"):
        registry.register("m", {"not": "a model"})
    with pytest.raises(EntryNotFoundError):
        registry.register("m", tiny_spec(), parent="ghost:1")
    assert registry.list() == []


def test_corrupt_or_foreign_index_is_reported_not_overwritten(tmp_path):
    folder = tmp_path / "reg"
    folder.mkdir()
    (folder / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryError, match="index.sqlite.*not a leanspike registry or is "
                                            "damaged|index.sqlite: cannot"):
        Registry(folder)
    assert (folder / "index.sqlite").read_bytes().startswith(b"this is not a database")


def test_newer_schema_is_refused(tmp_path):
    reg = Registry(tmp_path)
    with sqlite3.connect(reg.path / "index.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(RegistryError, match="schema version 99 was written by a newer"):
        Registry(tmp_path)


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("LEANSPIKE_REGISTRY", str(tmp_path / "env-reg"))
    assert default_path() == tmp_path / "env-reg"
    assert Registry().path == tmp_path / "env-reg"
    monkeypatch.delenv("LEANSPIKE_REGISTRY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "leanspike" / "registry"


def test_snntorch_adapter_loads_entries_and_references(registry, tiny_spec, tiny_ann):
    spec = tiny_spec()
    entry = registry.register("m", spec)
    ann = registry.register("m", tiny_ann, stage="ann")
    x = torch.rand(4, 64) * 2
    expected = simulate(spec, x).output
    for source in (entry, "m:1", "m@snn"):
        net = to_snntorch(source, registry=registry)
        torch.testing.assert_close(net(x), expected)
    assert resolve_spec("m:1", registry.path).identical(spec)
    with pytest.raises(RegistryError, match=r"m:2 is an ANN \(stage 'ann'\); convert it"):
        to_snntorch(ann)


def test_entry_records_are_plain_json(registry, tiny_spec):
    registry.register("m", tiny_spec(), metrics={"accuracy": 0.5, "per_layer": [1, 2]})
    with sqlite3.connect(registry.path / "index.sqlite") as db:
        (metrics,) = db.execute("SELECT metrics FROM entries").fetchone()
    assert json.loads(metrics) == {"accuracy": 0.5, "per_layer": [1, 2]}
