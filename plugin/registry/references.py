"""Entry names and references: ``name``, ``name:3``, ``name@latest``, ``name@stage``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leanspike.errors import RegistryError

# Names become parts of CLI arguments and archive manifests, never paths, but keep them tame:
# no separators, no leading dot or dash, no whitespace, nothing that needs quoting.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,63}$")
STAGES = ("ann", "snn", "retrained", "pruned", "quantized")


def check_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise RegistryError(
            f"invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting "
            f"with a letter or digit (no '/', no '..', no spaces)")
    return name


def check_tag(tag: object) -> str:
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise RegistryError(f"invalid tag {tag!r}: use 1-64 letters, digits, '.', '_', '=', '+' "
                            f"or '-', starting with a letter or digit")
    return tag


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None  # a fixed version
    stage: str | None = None  # the newest entry of this stage

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.stage or 'latest'}"


def parse_ref(text: str) -> Ref:
    if not isinstance(text, str):
        raise RegistryError(f"a reference is a string like 'name', 'name:3' or 'name@stage', "
                            f"got {type(text).__name__}")
    if ":" in text:
        name, _, version = text.partition(":")
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(f"invalid reference {text!r}: the version after ':' must be a "
                                f"positive integer")
        return Ref(check_name(name), version=int(version))
    if "@" in text:
        name, _, stage = text.partition("@")
        check_name(name)
        if stage == "latest":
            return Ref(name)
        return Ref(name, stage=check_name(stage, "stage"))
    return Ref(check_name(text))
