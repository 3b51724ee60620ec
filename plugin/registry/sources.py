"""Where a network spec can come from: one resolver both adapters use, so every function that
takes a spec also takes a registry entry, a reference or a spec folder."""

from __future__ import annotations

import os
from pathlib import Path

from leanspike.errors import RegistryError
from leanspike.registry.registry import Entry, Registry
from leanspike.spec import SPEC_FILE, NetworkSpec, load_spec

# Readers of sources an adapter knows and the core does not (a NIR graph or file): each takes a
# source and returns its NetworkSpec, or None when the source is not its kind.
SOURCE_READERS: list = []


def add_source_reader(reader) -> None:
    """Let every ``resolve_spec`` take one more kind of source, without the core importing the
    adapter that reads it (``leanspike.adapters.nir`` adds NIR this way)."""
    if reader not in SOURCE_READERS:
        SOURCE_READERS.append(reader)


def resolve_spec(source, registry=None) -> NetworkSpec:
    """A NetworkSpec from a spec, a registry ``Entry``, a spec folder, or a reference such as
    ``"digits@pruned"`` looked up in ``registry`` (a Registry or its path; default registry if
    None)."""
    if isinstance(source, NetworkSpec):
        return source
    for reader in SOURCE_READERS:
        spec = reader(source)
        if spec is not None:
            return spec
    if isinstance(source, Entry):
        entry = source
        reg = entry.registry
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir() and (path / SPEC_FILE).is_file():
            return load_spec(path)
        reg = registry if isinstance(registry, Registry) else Registry(registry)
        entry = reg.get(str(source))
    else:
        raise RegistryError(f"expected a NetworkSpec, a registry entry, a reference or a spec "
                            f"folder, got {type(source).__name__}")
    if entry.kind != "snn":
        raise RegistryError(f"registry entry {entry.ref} is an ANN (stage {entry.stage!r}); "
                            f"convert it to an SNN first")
    return reg.load(entry)
