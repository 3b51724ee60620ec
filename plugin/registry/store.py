"""Content-addressed artifact files: each blob is stored once under its sha256.

A blob is written to ``tmp/``, fsynced and renamed into ``objects/ab/<sha256>``, so a reader
either sees the whole file or none. Reading re-hashes and names the file if it does not match.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from leanspike.atomic import atomic_write
from leanspike.errors import RegistryError

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(RegistryError):
    """An artifact file is missing or its bytes no longer match their sha256."""


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"

    def create(self) -> None:
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise RegistryError(f"not a sha256 digest: {sha256!r}")
        return self.objects / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if path.is_file() and path.stat().st_size == len(data):
            os.utime(path)  # freshly referenced: keep gc's grace period from removing it
            return sha
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, data, tmp_dir=self.tmp)
        return sha

    def get(self, sha256: str, what: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactError(f"{what}: artifact file {path} is missing") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ArtifactError(f"{what}: artifact file {path} is corrupt (sha256 {actual[:12]}... "
                                f"instead of {sha256[:12]}...)")
        return data

    def check(self, sha256: str) -> str | None:
        """None if the blob is intact, else what is wrong with it."""
        path = self.path(sha256)
        if not path.is_file():
            return "missing"
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return None if h.hexdigest() == sha256 else "corrupt (sha256 mismatch)"

    def all(self) -> set[str]:
        return {p.name for p in self.objects.glob("??/*") if SHA256.match(p.name)}

    def remove_unreferenced(self, referenced: set[str], grace_seconds: float) -> list[str]:
        """Delete blobs (and stale temporary files) no entry references, once older than the
        grace period: a writer puts its blobs before it commits its entry."""
        cutoff = time.time() - grace_seconds
        removed = []
        for sha in self.all() - referenced:
            path = self.path(sha)
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(sha)
        for tmp in self.tmp.glob("*"):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink(missing_ok=True)
        return removed
