"""Structured logging: every line names the plugin and camera it concerns, and no secret."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

# Fields a log call may pass in `extra=` that the formatters render as key=value pairs.
CONTEXT_FIELDS = ("plugin", "camera", "owner", "subscriber", "event_type", "path", "status")

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_REDACTED = "***"
_INVITE_LINK = re.compile(r"(/invites?/)[A-Za-z0-9_-]{40,}")
"""An invitation link's token (hub/access/invites.py): the link is a password until used."""


class SecretRedactor(logging.Filter):
    """Scrubs known secret values, URL credentials and invitation links from every record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        """Remember more secret values to scrub (short values are ignored to avoid noise)."""
        with self._lock:
            self._secrets = self._secrets | {v for v in values if v and len(v) >= 4}

    def redact(self, text: str) -> str:
        """Return `text` with secrets, URL user info and invitation tokens replaced."""
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{_REDACTED}@", text)
        text = _INVITE_LINK.sub(rf"\1{_REDACTED}", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, scrubbed, so formatters never see the raw arguments."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, str):
                record.__dict__[name] = self.redact(value)
        return True


redactor = SecretRedactor()
"""The process-wide redactor; the hub adds the config's secret values to it at load time."""

SECRET_KEY_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "dsn",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "session",
        "token",
    }
)
"""Mapping keys named so (or ending `_<name>`, like `bot_token`) hold secrets."""


def names_secret(key: str, names: frozenset[str] = SECRET_KEY_NAMES) -> bool:
    """Whether the mapping key `key` names a secret: one of `names`, or `<anything>_<name>`."""
    name = key.lower().replace("-", "_")
    return name in names or name.rsplit("_", 1)[-1] in names


class KeyValueFormatter(logging.Formatter):
    """`2026-11-23T10:00:00Z INFO hub.plugins plugin=rtsp camera=alun-1 message` lines."""

    def format(self, record: logging.LogRecord) -> str:
        """Format one record as a single line with its context fields."""
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        parts = [f"{stamp}Z", f"{record.levelname:<7}", record.name]
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                parts.append(f"{name}={value}")
        parts.append(record.getMessage())
        line = " ".join(parts)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        """Format one record as JSON with its context fields."""
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = value
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, default=str)


def configure_logging(
    level: str = "INFO", fmt: Literal["text", "json"] = "text", stream: Any = None
) -> logging.Handler:
    """Send the hub's logs to `stream` (stderr by default), scrubbed of secrets."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "pantau", False):
            root.removeHandler(old)
    handler.pantau = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every migration step at INFO; a hub start should not.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    # aiosqlite logs every statement it runs at DEBUG: noise that hides the hub's own lines.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    # zeep and onvif dump whole SOAP envelopes at DEBUG: WS-Security digests and nonces, and
    # whatever a camera echoes back. Never in the hub's log, whatever its level.
    for chatty in ("zeep", "onvif"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
    return handler
