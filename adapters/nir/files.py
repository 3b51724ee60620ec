"""NIR files: written atomically and read back with NIR's own reader and type checks before
anyone is told they exist; unreadable or malformed files fail naming the file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import nir

from leanspike.adapters.nir.dynamics import DEFAULT_DT
from leanspike.adapters.nir.export import to_nir
from leanspike.adapters.nir.ingest import from_nir
from leanspike.errors import SpecError, SpecFileError
from leanspike.spec import NetworkSpec

SUFFIX = ".nir"


def read_graph(path: str | os.PathLike) -> nir.NIRGraph:
    """The graph in ``path``, through ``nir.read`` with its type checking (every edge's shapes
    agree)."""
    path = Path(path)
    if not path.is_file():
        raise SpecFileError(f"{path}: no such NIR file")
    try:
        graph = nir.read(path, type_check=True)
    except OSError as exc:  # h5py: not an HDF5 file, truncated
        raise SpecFileError(f"{path}: not a readable NIR file (HDF5: {exc}); it is truncated, "
                            f"corrupt or not NIR") from exc
    except (KeyError, ValueError, TypeError, AssertionError, NotImplementedError) as exc:
        raise SpecFileError(f"{path}: not a valid NIR graph ({type(exc).__name__}: {exc}); "
                            f"written by a NIR other than {nir.__version__}, or damaged") from exc
    if not isinstance(graph, nir.NIRGraph):
        raise SpecFileError(f"{path}: holds a single {type(graph).__name__} node, not a "
                            f"NIRGraph")
    return graph


def read_nir(path: str | os.PathLike, *, dt: float | None = None,
             timesteps: int | None = None) -> NetworkSpec:
    """The spec of the NIR file ``path`` (``from_nir`` of ``read_graph``); a graph leanspike
    cannot take fails naming the file and the node."""
    graph = read_graph(path)
    try:
        return from_nir(graph, dt=dt, timesteps=timesteps)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from exc


def write_nir(source: NetworkSpec | nir.NIRGraph, path: str | os.PathLike, *,
              dt: float = DEFAULT_DT, strict: bool = True) -> Path:
    """Write a spec (through ``to_nir``) or a graph to ``path``. The file is written beside
    its final name, read back with ``nir.read`` (type-checked) and, for a spec, converted back
    and compared bit for bit before it is renamed into place."""
    path = Path(path)
    graph = source if isinstance(source, nir.NIRGraph) else to_nir(source, dt=dt, strict=strict)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        nir.write(tmp, graph)
        back = read_graph(tmp)
        back.check_types()
        if isinstance(source, NetworkSpec) and not from_nir(back).identical(from_nir(graph)):
            raise SpecFileError(f"{path}: the written file does not read back as the spec it "
                                f"was written from")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
