"""The model registry: every stage of every model, with lineage, in one folder both sides read.

Layout of a registry folder::

    index.sqlite          entries, tags and artifact hashes (one transaction per change)
    objects/ab/<sha256>   artifact files, content-addressed, written before the index refers
    tmp/                  where artifact files are written before their atomic rename

An entry is visible only once its index transaction commits, and that happens after all of its
artifact files are durably in place, so a writer killed at any point leaves no half entry (at
worst an unreferenced file, which ``gc`` removes). Artifacts are network specs (SNN stages) or
zoo models (ANN stages): JSON + safetensors, never pickles, re-hashed on every load.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from leanspike.errors import EntryNotFoundError, RegistryError
from leanspike.registry.archive import read_archive, write_archive
from leanspike.registry.codec import deserialize, serialize
from leanspike.registry.references import Ref, check_name, check_tag, parse_ref
from leanspike.registry.store import BlobStore
from leanspike.spec import NetworkSpec

INDEX_FILE = "index.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id INTEGER REFERENCES entries(id),
    created TEXT NOT NULL,
    timesteps INTEGER,
    metrics TEXT NOT NULL,
    params TEXT NOT NULL,
    origin TEXT,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS tags (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (entry_id, tag)
);
CREATE TABLE IF NOT EXISTS artifacts (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (entry_id, role)
);
CREATE INDEX IF NOT EXISTS entries_parent ON entries(parent_id);
"""


def default_path() -> Path:
    """``$LEANSPIKE_REGISTRY`` if set, else the user data directory (XDG on Linux)."""
    env = os.environ.get("LEANSPIKE_REGISTRY")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("leanspike") / "registry"


@dataclass(frozen=True)
class Entry:
    """One registered stage. ``load()`` gives the NetworkSpec (SNN) or the nn.Module (ANN)."""

    id: int
    name: str
    version: int
    stage: str
    kind: str
    parent: str | None
    created: str
    timesteps: int | None
    metrics: dict[str, Any]
    params: dict[str, Any]
    tags: tuple[str, ...]
    artifacts: dict[str, str]  # role -> sha256
    origin: str | None = None
    registry: Registry | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def load(self) -> NetworkSpec | nn.Module:
        if self.registry is None:
            raise RegistryError(f"{self.ref}: this entry is not attached to a registry")
        return self.registry.load(self)


@dataclass
class VerifyReport:
    entries_checked: int
    problems: list[tuple[str, str, str, str]]  # (ref, role, file, problem)
    unreferenced_files: int

    @property
    def ok(self) -> bool:
        return not self.problems


def _json(value: Any, what: str) -> str:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise RegistryError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} must be JSON-serialisable with finite numbers ({exc})") \
            from exc


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


class Registry:
    """A registry folder. Every method opens its own short SQLite connection, so a Registry can
    be shared across threads and processes (each writer serialises on the index's write lock)."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 60.0):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.timeout = timeout
        self.store = BlobStore(self.path)
        self._index = self.path / INDEX_FILE
        if self.path.exists() and not self.path.is_dir():
            raise RegistryError(f"registry path {self.path} exists and is not a folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self.store.create()
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RegistryError(f"{self._index}: schema version {version} was written by a "
                                    f"newer leanspike (this one knows {SCHEMA_VERSION})")
            if version == 0:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)  # not executescript: it would commit early
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self._index, timeout=self.timeout, isolation_level=None)
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = FULL")
            return db
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self._index}: cannot open the registry index ({exc}); the "
                                f"file is not a leanspike registry or is damaged") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise RegistryError(f"{self._index}: cannot lock the registry index ({exc})") \
                    from exc
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self._index}: cannot read the registry index ({exc})") from exc
        finally:
            db.close()

    # -- rows to entries -----------------------------------------------------------------------

    _COLUMNS = ("e.id, e.name, e.version, e.stage, e.kind, p.name, p.version, e.created, "
                "e.timesteps, e.metrics, e.params, e.origin")

    def _entries(self, db: sqlite3.Connection, where: str = "", args: tuple = ()) -> list[Entry]:
        rows = db.execute(f"SELECT {self._COLUMNS} FROM entries e LEFT JOIN entries p "
                          f"ON e.parent_id = p.id {where} ORDER BY e.name, e.version",
                          args).fetchall()
        out = []
        for (id_, name, version, stage, kind, pname, pversion, created, timesteps, metrics,
             params, origin) in rows:
            tags = tuple(t for (t,) in db.execute(
                "SELECT tag FROM tags WHERE entry_id = ? ORDER BY tag", (id_,)))
            artifacts = dict(db.execute(
                "SELECT role, sha256 FROM artifacts WHERE entry_id = ? ORDER BY role", (id_,)))
            out.append(Entry(id_, name, version, stage, kind,
                             f"{pname}:{pversion}" if pname is not None else None, created,
                             timesteps, json.loads(metrics), json.loads(params), tags, artifacts,
                             origin, self))
        return out

    def _resolve(self, db: sqlite3.Connection, ref: str | Ref | Entry) -> Entry:
        if isinstance(ref, Entry):
            ref = ref.ref
        r = ref if isinstance(ref, Ref) else parse_ref(ref)
        if r.version is not None:
            found = self._entries(db, "WHERE e.name = ? AND e.version = ?", (r.name, r.version))
        elif r.stage is not None:
            found = self._entries(db, "WHERE e.name = ? AND e.stage = ?", (r.name, r.stage))
        else:
            found = self._entries(db, "WHERE e.name = ?", (r.name,))
        if not found:
            names = [n for (n,) in db.execute("SELECT DISTINCT name FROM entries ORDER BY name")]
            hint = f"; names here: {', '.join(names[:20])}" if names else "; the registry is empty"
            raise EntryNotFoundError(f"no entry {r} in registry {self.path}{hint}")
        return found[-1]

    # -- public API ----------------------------------------------------------------------------

    def register(self, name: str, artifact: NetworkSpec | nn.Module, *, stage: str | None = None,
                 parent: str | Entry | None = None, metrics: dict | None = None,
                 params: dict | None = None, tags: tuple[str, ...] | list[str] = (),
                 timesteps: int | None = None) -> Entry:
        """Store ``artifact`` as the next version of ``name``; returns the new entry."""
        check_name(name)
        kind, files = serialize(artifact)
        stage = check_name(stage or kind, "stage")
        if timesteps is None and isinstance(artifact, NetworkSpec):
            timesteps = artifact.timesteps
        if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, int)
                                      or timesteps < 1):
            raise RegistryError(f"timesteps must be a positive integer, got {timesteps!r}")
        metrics_json = _json(metrics, "metrics")
        params_json = _json(params, "params")
        tags = tuple(sorted({check_tag(t) for t in tags}))
        hashes = {role: self.store.put(data) for role, data in files.items()}
        with self._write() as db:
            parent_id = self._resolve(db, parent).id if parent is not None else None
            entry_id = self._insert(db, name, stage, kind, parent_id, _now(), timesteps,
                                    metrics_json, params_json, None, tags,
                                    {r: (h, len(files[r])) for r, h in hashes.items()})
            return self._entries(db, "WHERE e.id = ?", (entry_id,))[0]

    @staticmethod
    def _insert(db, name, stage, kind, parent_id, created, timesteps, metrics_json, params_json,
                origin, tags, artifacts) -> int:
        version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM entries WHERE name = ?",
                             (name,)).fetchone()[0]
        cur = db.execute(
            "INSERT INTO entries (name, version, stage, kind, parent_id, created, timesteps, "
            "metrics, params, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, version, stage, kind, parent_id, created, timesteps, metrics_json,
             params_json, origin))
        entry_id = cur.lastrowid
        db.executemany("INSERT INTO tags (entry_id, tag) VALUES (?, ?)",
                       [(entry_id, t) for t in tags])
        db.executemany("INSERT INTO artifacts (entry_id, role, sha256, size) VALUES (?, ?, ?, ?)",
                       [(entry_id, role, sha, size) for role, (sha, size) in artifacts.items()])
        return entry_id

    def get(self, ref: str | Entry) -> Entry:
        """The entry's record (no artifact is read)."""
        with self._read() as db:
            return self._resolve(db, ref)

    def load(self, ref: str | Entry) -> NetworkSpec | nn.Module:
        """The entry's artifact, re-hashed and validated: a NetworkSpec or a zoo nn.Module."""
        entry = self.get(ref)
        files = {role: self.store.get(sha, f"{entry.ref} {role}")
                 for role, sha in entry.artifacts.items()}
        return deserialize(entry.kind, files, f"registry entry {entry.ref}")

    def list(self, *, name: str | None = None, stage: str | None = None, tag: str | None = None,
             kind: str | None = None) -> list[Entry]:
        clauses, args = [], []
        if name is not None:
            clauses.append("e.name = ?")
            args.append(name)
        if stage is not None:
            clauses.append("e.stage = ?")
            args.append(stage)
        if kind is not None:
            clauses.append("e.kind = ?")
            args.append(kind)
        if tag is not None:
            clauses.append("e.id IN (SELECT entry_id FROM tags WHERE tag = ?)")
            args.append(tag)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._read() as db:
            return self._entries(db, where, tuple(args))

    def lineage(self, ref: str | Entry) -> list[Entry]:
        """The entry, its parent, ..., up to the root (the entry first)."""
        with self._read() as db:
            chain = [self._resolve(db, ref)]
            while chain[-1].parent is not None:
                chain.append(self._resolve(db, chain[-1].parent))
                if len(chain) > 10_000:
                    raise RegistryError(f"{chain[0].ref}: lineage does not end (a cycle?)")
            return chain

    def children(self, ref: str | Entry) -> list[Entry]:
        with self._read() as db:
            entry = self._resolve(db, ref)
            return self._entries(db, "WHERE e.parent_id = ?", (entry.id,))

    def tag(self, ref: str | Entry, *tags: str) -> Entry:
        checked = [check_tag(t) for t in tags]
        with self._write() as db:
            entry = self._resolve(db, ref)
            db.executemany("INSERT OR IGNORE INTO tags (entry_id, tag) VALUES (?, ?)",
                           [(entry.id, t) for t in checked])
            return self._entries(db, "WHERE e.id = ?", (entry.id,))[0]

    def untag(self, ref: str | Entry, *tags: str) -> Entry:
        with self._write() as db:
            entry = self._resolve(db, ref)
            db.executemany("DELETE FROM tags WHERE entry_id = ? AND tag = ?",
                           [(entry.id, t) for t in tags])
            return self._entries(db, "WHERE e.id = ?", (entry.id,))[0]

    def delete(self, ref: str | Entry, *, force: bool = False) -> list[Entry]:
        """Remove an entry. With children it refuses, unless ``force``, which removes the whole
        subtree (children first). Returns what was removed; artifact files go with ``gc``."""
        with self._write() as db:
            entry = self._resolve(db, ref)
            subtree = [entry]
            frontier = [entry.id]
            while frontier:
                kids = self._entries(db, f"WHERE e.parent_id IN ({','.join('?' * len(frontier))})",
                                     tuple(frontier))
                subtree.extend(kids)
                frontier = [k.id for k in kids]
            if len(subtree) > 1 and not force:
                names = ", ".join(e.ref for e in subtree[1:])
                raise RegistryError(f"{entry.ref} has descendants ({names}); delete them first "
                                    f"or pass force=True (--force) to remove them all")
            for e in reversed(subtree):
                db.execute("DELETE FROM entries WHERE id = ?", (e.id,))
            return subtree

    def verify(self) -> VerifyReport:
        """Re-hash every artifact of every entry; report what is missing or corrupt."""
        entries = self.list()
        problems = []
        checked: dict[str, str | None] = {}
        for entry in entries:
            for role, sha in entry.artifacts.items():
                if sha not in checked:
                    checked[sha] = self.store.check(sha)
                if checked[sha] is not None:
                    problems.append((entry.ref, role, str(self.store.path(sha)), checked[sha]))
        unreferenced = len(self.store.all() - set(checked))
        return VerifyReport(len(entries), problems, unreferenced)

    def gc(self, grace_seconds: float = 3600.0) -> list[str]:
        """Delete artifact files no entry references (older than the grace period)."""
        referenced = {sha for e in self.list() for sha in e.artifacts.values()}
        return self.store.remove_unreferenced(referenced, grace_seconds)

    # -- sharing -------------------------------------------------------------------------------

    def export(self, ref: str | Entry, file: str | os.PathLike) -> Path:
        """Write the entry and its whole lineage as one archive file (see ``archive``)."""

        chain = list(reversed(self.lineage(ref)))  # root first
        blobs = {sha: self.store.get(sha, f"{e.ref} {role}")
                 for e in chain for role, sha in e.artifacts.items()}
        return write_archive(Path(file), chain, blobs)

    def import_archive(self, file: str | os.PathLike) -> Entry:
        """Add an exported lineage; entries already here (same name, stage, creation time and
        artifacts) are reused, others get the next free version. Everything in the archive is
        checked before anything is written. Returns the leaf entry."""

        records, blobs = read_archive(Path(file))
        for data in blobs.values():
            self.store.put(data)
        origin_base = Path(file).name
        with self._write() as db:
            parent_id = None
            for rec in records:
                local = self._matching(db, rec)
                if local is None:
                    parent_id = self._insert(
                        db, rec["name"], rec["stage"], rec["kind"], parent_id, rec["created"],
                        rec["timesteps"], _json(rec["metrics"], "metrics"),
                        _json(rec["params"], "params"),
                        rec.get("origin") or f"{origin_base}:{rec['name']}:{rec['version']}",
                        tuple(rec["tags"]),
                        {role: (sha, len(blobs[sha])) for role, sha in rec["artifacts"].items()})
                else:
                    parent_id = local.id
            return self._entries(db, "WHERE e.id = ?", (parent_id,))[0]

    def _matching(self, db, rec: dict) -> Entry | None:
        for e in self._entries(db, "WHERE e.name = ? AND e.created = ?",
                               (rec["name"], rec["created"])):
            if e.stage == rec["stage"] and e.kind == rec["kind"] and \
                    e.artifacts == rec["artifacts"]:
                return e
        return None
