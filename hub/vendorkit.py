"""Helpers for vendor plugin authors: logging bad payloads safely, and JSON-ready raw data."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

SAMPLE_CHARS = 300
"""How much of a bad payload a log line shows."""


def sample(payload: bytes | str, limit: int = SAMPLE_CHARS) -> str:
    """A short printable excerpt of a payload for a log line."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    text = payload if len(payload) <= limit else payload[:limit] + f"... ({len(payload)} chars)"
    return text.encode("unicode_escape", errors="replace").decode("ascii")


class PayloadLog:
    """What one device session logs about payloads it could not use.

    A malformed payload is logged (camera name, what it was, the error, a sample) at most once
    every `every` seconds per `what`, with a count of those not logged; an unknown topic is
    logged once per topic with a sample. Nothing here ever raises.
    """

    def __init__(self, logger: logging.Logger, camera: str, every: float = 60.0) -> None:
        self.logger = logger
        self.camera = camera
        self.every = every
        self.malformed_count = 0
        self.unknown_topics: set[str] = set()
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def malformed(self, what: str, payload: bytes | str, error: BaseException | str) -> None:
        """Log a payload that was skipped because it could not be understood."""
        self.malformed_count += 1
        now = time.monotonic()
        last = self._last.get(what)
        if last is not None and now - last < self.every:
            self._quiet[what] = self._quiet.get(what, 0) + 1
            return
        self._last[what] = now
        skipped = self._quiet.pop(what, 0)
        more = f" ({skipped} more since the last report)" if skipped else ""
        self.logger.warning(
            "camera %r: skipped a malformed %s: %s%s; sample: %s",
            self.camera,
            what,
            error,
            more,
            sample(payload),
        )

    def unknown_topic(self, topic: str, payload: bytes | str | Mapping[str, Any]) -> bool:
        """Log a topic no parser knows, once; True the first time it is seen."""
        if topic in self.unknown_topics:
            return False
        self.unknown_topics.add(topic)
        text = payload if isinstance(payload, bytes | str) else repr(dict(payload))
        self.logger.info(
            "camera %r: unknown event topic %r, delivered as raw; sample: %s",
            self.camera,
            topic,
            sample(text),
        )
        return True


def json_ready(value: Any, depth: int = 0) -> Any:
    """`value` made of JSON types only (str, int, float, bool, None, lists, dicts with str keys)."""
    if depth > 20:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(key): json_ready(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(item, depth + 1) for item in value]
    return str(value)
