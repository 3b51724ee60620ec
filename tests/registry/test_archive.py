import hashlib
import io
import json
import tarfile

import pytest

from leanspike.registry import ArchiveError, Registry


@pytest.fixture
def chain(registry, tiny_ann, tiny_spec):
    a = registry.register("digits", tiny_ann, metrics={"accuracy": 0.97}, tags=["baseline"])
    b = registry.register("digits", tiny_spec(0), parent=a, params={"T": 2})
    c = registry.register("digits", tiny_spec(1, timesteps=1), parent=b, stage="retrained")
    return [a, b, c]


def test_export_import_carries_the_lineage_bit_for_bit(tmp_path, registry, chain):
    archive = registry.export("digits@retrained", tmp_path / "share" / "digits.tar.gz")
    other = Registry(tmp_path / "other")
    other.register("digits", registry.load("digits:2"))  # digits:1 is taken there already
    leaf = other.import_archive(archive)
    lineage = other.lineage(leaf)
    assert [e.stage for e in lineage] == ["retrained", "snn", "ann"]
    assert [e.ref for e in lineage] == ["digits:4", "digits:3", "digits:2"]
    for mine, theirs in zip(reversed(chain), lineage):
        assert theirs.artifacts == mine.artifacts
        assert (theirs.metrics, theirs.params, theirs.tags, theirs.created) == \
            (mine.metrics, mine.params, mine.tags, mine.created)
        assert theirs.origin == f"digits.tar.gz:{mine.ref}"
    assert other.load(leaf).identical(registry.load("digits@retrained"))
    assert other.verify().ok


def test_importing_twice_or_into_the_source_adds_nothing(tmp_path, registry, chain):
    archive = registry.export("digits:3", tmp_path / "d.tar.gz")
    assert registry.import_archive(archive).ref == "digits:3"
    assert len(registry.list()) == 3
    other = Registry(tmp_path / "other")
    first = other.import_archive(archive)
    second = other.import_archive(archive)
    assert first == second and len(other.list()) == 3


def _tar(path, members):
    """members: list of (name, bytes) or (TarInfo, bytes|None)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _members(archive):
    with tarfile.open(archive) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def _with_manifest(members, edit):
    out = []
    for name, data in members:
        if name == "manifest.json":
            doc = json.loads(data)
            edit(doc)
            data = json.dumps(doc).encode()
        out.append((name, data))
    return out


def _symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _evil_archives(tmp_path, good):
    members = _members(good)
    obj_name, obj_data = next((n, d) for n, d in members if n.startswith("objects/"))
    fake = b"not the real weights"
    fake_sha = hashlib.sha256(fake).hexdigest()
    return {
        "path traversal": [*members, ("../../escaped.txt", b"pwned")],
        "absolute path": [*members, ("/tmp/leanspike-escaped.txt", b"pwned")],
        "symlink": [*[m for m in members if m[0] != obj_name], (_symlink(obj_name, "/etc/passwd"),
                                                                 None)],
        "wrong hash": [*[m for m in members if m[0] != obj_name], (obj_name, obj_data + b"!")],
        "missing object": [m for m in members if m[0] != obj_name],
        "bad entry name": _with_manifest(members, lambda d: d["entries"][0].update(
            name="../../etc")),
        "broken lineage": _with_manifest(members, lambda d: d["entries"][1].update(
            parent="digits:7")),
        "undeserialisable artifact": _with_manifest(
            [*members, (f"objects/{fake_sha}", fake)],
            lambda d: d["entries"][1]["artifacts"].update({"weights.safetensors": fake_sha})),
        "unreferenced object": [*members, (f"objects/{fake_sha}", fake)],
        "future format": _with_manifest(members, lambda d: d.update(format_version=9)),
        "two manifests": [*members, members[0]],
    }


def test_malicious_archives_are_refused_and_write_nothing(tmp_path, registry, chain):
    good = registry.export("digits:3", tmp_path / "good.tar.gz")
    target = Registry(tmp_path / "target")
    for case, members in _evil_archives(tmp_path, good).items():
        archive = _tar(tmp_path / f"{case.replace(' ', '_')}.tar.gz", members)
        with pytest.raises(ArchiveError, match="nothing was imported"):
            target.import_archive(archive)
        assert target.list() == [], case
        assert target.store.all() == set(), case
        assert not any(target.store.tmp.iterdir()), case
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not (tmp_path / "leanspike-escaped.txt").exists()


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\x1f\x8b\x08broken gzip"])
def test_non_archives_are_refused(tmp_path, registry, content):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match=str(path)):
        registry.import_archive(path)
    with pytest.raises(ArchiveError, match="no such archive"):
        registry.import_archive(tmp_path / "absent.tar.gz")
