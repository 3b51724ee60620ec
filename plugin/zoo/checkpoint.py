"""Save and rebuild zoo models without pickle: model.json (builder + arguments) + safetensors.

This is the ANN artifact format: the JSON names the zoo builder and its arguments, the
safetensors file holds the state dict, and its sha256 is recorded so corruption is caught.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanspike.atomic import atomic_write
from leanspike.errors import ConfigError, ModelFileError, UnknownModelError
from leanspike.zoo.builders import create_model

FORMAT_NAME = "leanspike.ann"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
STATE_FILE = "model.safetensors"


def model_to_bytes(model: nn.Module, metadata: dict[str, Any] | None = None) -> tuple[bytes, bytes]:
    from safetensors.torch import save

    config = getattr(model, "leanspike_config", None)
    if config is None:
        raise ModelFileError("the model was not built by leanspike.zoo.create_model, so it cannot "
                             "be rebuilt from a file; build it with create_model(name, ...)")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "builder": config["name"],
        "kwargs": config["kwargs"],
        "state_sha256": hashlib.sha256(weights).hexdigest(),
        "metadata": metadata or {},
    }
    try:
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ModelFileError(
            f"model metadata or arguments are not JSON-serialisable ({exc})") from exc
    return text.encode(), weights


def save_model(model: nn.Module, directory: str | os.PathLike,
               metadata: dict[str, Any] | None = None) -> Path:
    directory = Path(directory)
    model_json, weights = model_to_bytes(model, metadata)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / STATE_FILE, weights)
    atomic_write(directory / MODEL_FILE, model_json)
    return directory


def model_from_bytes(model_json: bytes, weights: bytes, source: str = "<bytes>"
                     ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model and return it with its metadata."""
    from safetensors.torch import load

    try:
        doc = json.loads(model_json.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{source}/{MODEL_FILE}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{source}/{MODEL_FILE}: not a leanspike ANN file")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{source}/{MODEL_FILE}: format_version {version!r} is not one this "
                             f"leanspike reads (up to {FORMAT_VERSION})")
    if hashlib.sha256(weights).hexdigest() != doc.get("state_sha256"):
        raise ModelFileError(f"{source}/{STATE_FILE}: sha256 does not match {MODEL_FILE}; the "
                             f"weights are corrupt or were replaced")
    kwargs = doc.get("kwargs")
    if not isinstance(kwargs, dict):
        raise ModelFileError(f"{source}/{MODEL_FILE}: 'kwargs' must be an object")
    try:
        model = create_model(doc.get("builder"), **kwargs)
    except (UnknownModelError, ConfigError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}/{MODEL_FILE}: cannot rebuild: {exc}") from exc
    try:
        state = load(weights)
    except Exception as exc:
        raise ModelFileError(f"{source}/{STATE_FILE}: unreadable safetensors ({exc})") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{source}/{STATE_FILE}: does not fit {doc['builder']}({kwargs}): "
                             f"{exc}") from exc
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{source}/{STATE_FILE}: {name} holds NaN or inf")
    model.eval()
    return model, doc.get("metadata", {})


def load_model(directory: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    directory = Path(directory)
    files = {}
    for name in (MODEL_FILE, STATE_FILE):
        path = directory / name
        if not path.is_file():
            raise ModelFileError(f"{path}: missing; a saved ANN folder holds {MODEL_FILE} and "
                                 f"{STATE_FILE}")
        files[name] = path.read_bytes()
    return model_from_bytes(files[MODEL_FILE], files[STATE_FILE], source=str(directory))
