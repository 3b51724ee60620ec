"""Registering one stage of the flow (trained, converted, retrained, pruned, deployed): the one
place every command, adapter and the pipeline go through, so that every entry records the same
provenance and a missing name fails the same way. Under torchrun only rank 0 writes; the other
ranks get the entry it wrote (the registry folder must be one they all see)."""

from __future__ import annotations

from leanspike import distributed
from leanspike._version import __version__
from leanspike.errors import ConfigError


def check_stage_name(registry, name: str | None, stage: str) -> None:
    """Fail before any work when a stage is to be registered without a name."""
    if registry is not None and not name:
        raise ConfigError(f"registering the {stage} stage needs a name")


def register_stage(registry, name: str | None, artifact, *, stage: str, parent=None,
                   metrics: dict | None = None, params: dict | None = None):
    """Register ``artifact`` as ``stage`` of ``name`` under ``parent`` (an entry or a
    reference) and return the entry; None when ``registry`` is None (nothing asked for it).
    ``params`` gains the leanspike version that produced the stage."""
    if registry is None:
        return None
    check_stage_name(registry, name, stage)
    if isinstance(parent, str):
        parent = registry.get(parent)
    params = {**(params or {}), "leanspike_version": __version__}

    def write():
        return registry.register(name, artifact, stage=stage, parent=parent, metrics=metrics,
                                 params=params)

    if not distributed.active():
        return write()
    return registry.get(distributed.from_main(lambda: write().ref))
