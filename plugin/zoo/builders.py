"""Architecture builders by name, as in timm and torchvision: ``create_model("small_cnn")``.

Every model made here remembers how it was made (``model.leanspike_config``: builder name and
JSON-able arguments), so a saved state dict can be rebuilt without pickle.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from leanspike.errors import ConfigError, UnknownModelError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    default_input_shape: tuple[int, ...]
    convertible: bool  # leanspike.convert.convert reads it (a chain, or a residual graph)


_BUILDERS: dict[str, ModelEntry] = {}


def register_model(name: str, *, default_input_shape: tuple[int, ...], convertible: bool = True):
    """Decorator: add a builder to the zoo. The docstring's first line is its description."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"a model named {name!r} is already registered")
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        _BUILDERS[name] = ModelEntry(name, fn, doc[0] if doc else "", default_input_shape,
                                     convertible)
        return fn

    return wrap


def list_models() -> list[str]:
    return sorted(_BUILDERS)


def model_entry(name: str) -> ModelEntry:
    try:
        return _BUILDERS[name]
    except KeyError:
        raise UnknownModelError(
            f"no model named {name!r} in the zoo; available: {', '.join(list_models())}"
        ) from None


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a zoo model by name; keyword arguments go to its builder (see ``list_models()``)."""
    entry = model_entry(name)
    sig = inspect.signature(entry.builder)
    try:
        bound = sig.bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"create_model({name!r}): {exc}; the builder takes "
                        f"{', '.join(sig.parameters)}") from None
    model = entry.builder(**kwargs)
    bound.apply_defaults()
    config = {k: _jsonable(v) for k, v in bound.arguments.items()}
    model.leanspike_config = {"name": name, "kwargs": config}
    return model


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
