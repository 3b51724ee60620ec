"""How an artifact becomes the files a registry entry stores, and back.

Its own module because both the index (``registry``) and the archive reader (``archive``) need
it: kept in either, the two would import each other. Artifacts are network specs (SNN stages)
or zoo models (ANN stages), as JSON + safetensors, never pickles.
"""

from __future__ import annotations

from torch import nn

from leanspike.errors import RegistryError
from leanspike.spec import NetworkSpec, spec_from_bytes, spec_to_bytes
from leanspike.zoo.checkpoint import model_from_bytes, model_to_bytes

# an entry's kind -> the roles of the files its artifact is stored as
KIND_ROLES = {
    "snn": ("spec.json", "weights.safetensors"),
    "ann": ("model.json", "model.safetensors"),
}


def serialize(artifact: NetworkSpec | nn.Module) -> tuple[str, dict[str, bytes]]:
    """(kind, {role: bytes}) for a spec or a zoo model."""
    if isinstance(artifact, NetworkSpec):
        spec_json, weights = spec_to_bytes(artifact)
        return "snn", {"spec.json": spec_json, "weights.safetensors": weights}
    if isinstance(artifact, nn.Module):
        model_json, weights = model_to_bytes(artifact)
        return "ann", {"model.json": model_json, "model.safetensors": weights}
    raise RegistryError(f"can register a NetworkSpec or a zoo nn.Module, not "
                        f"{type(artifact).__name__}")


def deserialize(kind: str, files: dict[str, bytes], source: str) -> NetworkSpec | nn.Module:
    """The artifact back from its files; ``source`` names it in any error."""
    if kind == "snn":
        return spec_from_bytes(files["spec.json"], files["weights.safetensors"], source)
    model, _meta = model_from_bytes(files["model.json"], files["model.safetensors"], source)
    return model
