"""Errors leanspike raises on bad input: each names the file, layer or field at fault."""


class LeanspikeError(Exception):
    """Base class, so callers can catch everything leanspike rejects in one clause."""


class ConfigError(LeanspikeError, ValueError):
    """An argument or setting is invalid; the message names it and what is accepted."""


class SpecError(LeanspikeError, ValueError):
    """A network spec is malformed; the message names the layer and field."""


class SpecFileError(SpecError):
    """A spec on disk cannot be read: truncated, corrupt, tampered with or from a newer version."""


class UnknownModelError(LeanspikeError, KeyError):
    """No zoo builder has that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(LeanspikeError, FileNotFoundError):
    """A dataset's directory is missing or incomplete; the message says what to put where."""


class UnknownDatasetError(LeanspikeError, KeyError):
    """No dataset has that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ModelFileError(LeanspikeError, ValueError):
    """A saved ANN (model.json + model.safetensors) cannot be rebuilt."""


class RegistryError(LeanspikeError):
    """The model registry refused a request or found a problem; the message names the entry."""


class EntryNotFoundError(RegistryError, KeyError):
    """No registry entry matches the reference."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
