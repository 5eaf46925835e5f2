"""A plugin's manifest (`manifest.toml` beside its `__init__.py`): who it is and what it needs."""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

MANIFEST_FILE = "manifest.toml"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class PluginKind(StrEnum):
    """What a plugin adds to the hub."""

    VENDOR = "vendor"
    INTEGRATION = "integration"
    CHANNEL = "channel"
    ANALYZER = "analyzer"
    BRIDGE = "bridge"
    CORE = "core"


class Manifest(BaseModel):
    """The validated contents of a plugin's `manifest.toml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    kind: PluginKind
    description: str = ""
    requirements: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    after_dependencies: tuple[str, ...] = ()
    min_hub_version: str | None = None
    essential: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be a lowercase Python identifier (letters, digits, '_'), got " + repr(value)
            )
        return value

    @field_validator("version", "min_hub_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Version(value)
            except InvalidVersion:
                raise ValueError(f"is not a version number, got {value!r}") from None
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                Requirement(item)
            except InvalidRequirement:
                raise ValueError(f"is not a valid requirement, got {item!r}") from None
        return value


class ManifestError(Exception):
    """A manifest that cannot be read or does not validate; the message says why in words."""


def read_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at `path`, raising `ManifestError` with every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_FILE} in {path.parent}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"could not read {path}: {exc}") from None
    return manifest_from_dict(raw, str(path))


def manifest_from_dict(raw: dict[str, Any], where: str) -> Manifest:
    """Validate a manifest given as a mapping; `where` names its origin in errors."""
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "manifest"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            elif err["type"] == "extra_forbidden":
                message = "is not a known field"
            problems.append(f"{field}: {message}")
        raise ManifestError(f"bad manifest {where}: " + "; ".join(problems)) from None


def unmet_requirements(manifest: Manifest) -> list[str]:
    """The manifest's requirements that the installed distributions do not satisfy."""
    unmet = []
    for text in manifest.requirements:
        req = Requirement(text)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{text} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{text} (installed {installed})")
    return unmet
