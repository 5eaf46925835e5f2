"""The inbox's options (`plugins: {inbox: {...}}`), checked; it is off unless `enabled: true`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, model_validator

from hub.config.base import Section

MIB = 1024 * 1024


class InboxOptions(Section):
    """How much the inbox keeps and how often its page refreshes."""

    max_messages: int = Field(200, ge=1, le=10_000, description="Newest messages kept.")
    max_post_bytes: int = Field(
        4 * MIB, ge=1024, le=64 * MIB, description="Largest notification accepted (bytes)."
    )
    max_stored_bytes: int = Field(
        64 * MIB,
        ge=1024,
        le=4096 * MIB,
        description="Attachments kept on disk at most (bytes); the oldest messages go first.",
    )
    refresh: int = Field(5, ge=1, le=3600, description="Seconds between page refreshes.")

    @model_validator(mode="after")
    def _one_post_fits(self) -> InboxOptions:
        if self.max_stored_bytes < self.max_post_bytes:
            raise ValueError("max_stored_bytes must be at least max_post_bytes")
        return self


def is_enabled(options: Mapping[str, Any] | None) -> bool:
    """Whether the config turns the inbox on: it shows alerts, so it is opt-in."""
    return options is not None and options.get("enabled") is True


def read_options(options: Mapping[str, Any]) -> InboxOptions:
    """The options, or ValueError naming every problem in plain words."""
    try:
        return InboxOptions.model_validate(dict(options))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            text = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                text = "is not an option of the inbox"
            problems.append(f"{where}: {text}" if where else text)
        raise ValueError("bad options: " + "; ".join(problems)) from None
