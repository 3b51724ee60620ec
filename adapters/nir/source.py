"""NIR as a source of every function that takes a spec: a ``nir.NIRGraph`` or a ``.nir`` path
given to ``resolve_spec`` (so to the Lava runner, ``verify``, ``to_snntorch``) is read through
``from_nir``. Registered with the core's resolver when this package is imported."""

from __future__ import annotations

import os
from pathlib import Path

import nir

from leanspike.adapters.nir.files import SUFFIX, read_nir
from leanspike.adapters.nir.ingest import from_nir


def nir_source(source):
    """The spec of a NIR graph or ``.nir`` file, or None for any other source."""
    if isinstance(source, nir.NIRGraph):
        return from_nir(source)
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == SUFFIX:
        return read_nir(source)
    return None
