"""One file to share an entry and its lineage between machines: a tar holding
``manifest.json`` and ``objects/<sha256>`` files.

Reading trusts nothing: only those member names and only regular files are accepted, every
object must hash to its name, every manifest field is checked, the lineage must chain, and every
artifact must deserialise, all before the registry writes a single byte.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any

from leanspike.atomic import atomic_write
from leanspike.errors import LeanspikeError, RegistryError
from leanspike.registry.codec import KIND_ROLES, deserialize
from leanspike.registry.references import check_name, check_tag
from leanspike.registry.store import SHA256

FORMAT_NAME = "leanspike.registry-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_OBJECT = re.compile(r"^objects/([0-9a-f]{64})$")
MAX_MEMBERS = 10_000
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


class ArchiveError(RegistryError):
    """An archive is malformed or tampered with; nothing from it was written."""


def write_archive(file: Path, chain: list, blobs: dict[str, bytes]) -> Path:
    """``chain``: entries root first. The archive is written whole, then renamed into place."""
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "entries": [
            {"name": e.name, "version": e.version, "stage": e.stage, "kind": e.kind,
             "parent": e.parent, "created": e.created, "timesteps": e.timesteps,
             "metrics": e.metrics, "params": e.params, "tags": list(e.tags),
             "artifacts": e.artifacts, "origin": e.origin}
            for e in chain
        ],
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=2).encode()),
                           *((f"objects/{sha}", blobs[sha]) for sha in sorted(blobs))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(file, buf.getvalue())
    return file


def _fail(file: Path, msg: str) -> ArchiveError:
    return ArchiveError(f"{file}: {msg}; nothing was imported")


def read_archive(file: Path) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Validated (entries root first, {sha256: bytes})."""
    import hashlib

    if not file.is_file():
        raise ArchiveError(f"{file}: no such archive file")
    try:
        tar = tarfile.open(file, mode="r:*")
    except _READ_ERRORS as exc:
        raise _fail(file, f"not a readable archive ({exc})") from exc
    manifest_bytes = None
    blobs: dict[str, bytes] = {}
    with tar:
        try:
            members = tar.getmembers()
        except _READ_ERRORS as exc:
            raise _fail(file, f"damaged archive ({exc})") from exc
        if len(members) > MAX_MEMBERS:
            raise _fail(file, f"{len(members)} members is more than any export holds")
        for m in members:
            if not m.isreg():
                raise _fail(file, f"member {m.name!r} is not a regular file (links and folders "
                                  f"are refused)")
            match = _OBJECT.match(m.name)
            if m.name != MANIFEST and not match:
                raise _fail(file, f"unexpected member {m.name!r} (only {MANIFEST} and "
                                  f"objects/<sha256>)")
            try:
                data = tar.extractfile(m).read()
            except _READ_ERRORS as exc:
                raise _fail(file, f"member {m.name!r} is damaged ({exc})") from exc
            if m.name == MANIFEST:
                if manifest_bytes is not None:
                    raise _fail(file, f"two {MANIFEST} members")
                manifest_bytes = data
            else:
                sha = match.group(1)
                if sha in blobs:
                    raise _fail(file, f"member {m.name!r} appears twice")
                if hashlib.sha256(data).hexdigest() != sha:
                    raise _fail(file, f"member {m.name!r} does not match its sha256")
                blobs[sha] = data
    if manifest_bytes is None:
        raise _fail(file, f"no {MANIFEST}")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise _fail(file, f"{MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _fail(file, "not a leanspike registry archive")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _fail(file, f"archive format version {manifest.get('format_version')!r} is not "
                          f"one this leanspike reads ({FORMAT_VERSION})")
    entries = manifest.get("entries")
    if not isinstance(entries, list) or not entries:
        raise _fail(file, "the manifest lists no entries")
    used = set()
    previous = None
    for i, rec in enumerate(entries):
        where = f"{MANIFEST} entries[{i}]"
        if not isinstance(rec, dict):
            raise _fail(file, f"{where} is not an object")
        try:
            check_name(rec.get("name"))
            check_name(rec.get("stage"), "stage")
            for t in rec.get("tags", []):
                check_tag(t)
        except RegistryError as exc:
            raise _fail(file, f"{where}: {exc}") from exc
        if rec.get("kind") not in KIND_ROLES:
            raise _fail(file, f"{where}: unknown kind {rec.get('kind')!r}")
        version = rec.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise _fail(file, f"{where}: bad version {version!r}")
        ts = rec.get("timesteps")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts < 1):
            raise _fail(file, f"{where}: bad timesteps {ts!r}")
        for key in ("metrics", "params"):
            if not isinstance(rec.get(key), dict):
                raise _fail(file, f"{where}: {key} must be an object")
        if not isinstance(rec.get("created"), str) or not isinstance(rec.get("tags"), list):
            raise _fail(file, f"{where}: created must be a string and tags a list")
        if rec.get("origin") is not None and not isinstance(rec["origin"], str):
            raise _fail(file, f"{where}: origin must be a string")
        expected_parent = None if previous is None else f"{previous['name']}:{previous['version']}"
        if rec.get("parent") != expected_parent:
            raise _fail(file, f"{where}: parent {rec.get('parent')!r} breaks the lineage "
                              f"(expected {expected_parent!r})")
        artifacts = rec.get("artifacts")
        roles = KIND_ROLES[rec["kind"]]
        if not isinstance(artifacts, dict) or sorted(artifacts) != sorted(roles):
            raise _fail(file, f"{where}: artifacts must be exactly {list(roles)}")
        for role, sha in artifacts.items():
            if not isinstance(sha, str) or not SHA256.match(sha) or sha not in blobs:
                raise _fail(file, f"{where}: artifact {role} ({sha!r:.20}) is not in the archive")
            used.add(sha)
        try:
            deserialize(rec["kind"], {role: blobs[sha] for role, sha in artifacts.items()},
                        f"{file} {rec['name']}:{version}")
        except LeanspikeError as exc:
            raise _fail(file, f"{where}: artifact does not load: {exc}") from exc
        previous = rec
    extra = set(blobs) - used
    if extra:
        raise _fail(file, f"{len(extra)} object(s) not referenced by any entry")
    return entries, blobs
