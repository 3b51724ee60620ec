"""The model registry shared by training and deployment (see ``registry.py`` for the layout)."""

from leanspike.registry.archive import ArchiveError
from leanspike.registry.references import STAGES, Ref, parse_ref
from leanspike.registry.registry import Entry, Registry, VerifyReport, default_path
from leanspike.registry.sources import resolve_spec
from leanspike.registry.stages import check_stage_name, register_stage
from leanspike.registry.store import ArtifactError

__all__ = [
    "STAGES",
    "ArchiveError",
    "ArtifactError",
    "Entry",
    "Ref",
    "Registry",
    "VerifyReport",
    "check_stage_name",
    "default_path",
    "parse_ref",
    "register_stage",
    "resolve_spec",
]
