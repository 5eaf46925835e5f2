"""What Apprise's `json://` service posts, checked: a bad post is refused with a reason, never kept.

Apprise 1.x and 2.x post one JSON object (`apprise/plugins/custom_json.py`):
`{"version": "1.0", "title": ..., "message": ..., "type": "info|success|warning|failure",
"attachments": [{"filename": ..., "base64": ..., "mimetype": ...}]}`. A `json://` URL may add
keys (`?:key=value`), which are ignored, or rename or drop the standard ones, which is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_TITLE = 1_000
MAX_MESSAGE = 64 * 1024
MAX_ATTACHMENTS = 8
MAX_NAME = 255

NotifyType = Literal["info", "success", "warning", "failure"]


class PayloadError(Exception):
    """A post the inbox refuses: `status` is the HTTP answer, the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WireAttachment(BaseModel):
    """One attachment as Apprise sends it: the file, base64-encoded."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    filename: str = Field("attachment", max_length=MAX_NAME)
    base64: str
    mimetype: str = Field("application/octet-stream", max_length=MAX_NAME)


class WirePayload(BaseModel):
    """The body of an Apprise `json://` notification."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    version: str | None = Field(None, max_length=16)
    title: str = Field("", max_length=MAX_TITLE)
    message: str = Field(max_length=MAX_MESSAGE)
    type: NotifyType = "info"
    attachments: list[WireAttachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """An attachment, decoded; its name and type are the sender's words, not to be trusted."""

    filename: str
    mimetype: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Received:
    """A notification that passed every check, ready to keep."""

    title: str
    body: str
    type: NotifyType
    files: tuple[ReceivedFile, ...]


def parse_payload(raw: bytes) -> Received:
    """The notification in `raw` (a request body), or PayloadError saying what is wrong."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError(400, f"the body is not JSON: {_first_line(exc)}") from None
    if not isinstance(document, dict):
        raise PayloadError(
            422, "expected a JSON object with title, message and attachments, as Apprise sends"
        )
    try:
        payload = WirePayload.model_validate(document)
    except ValidationError as exc:
        raise PayloadError(422, "; ".join(_problems(exc))) from None
    files = []
    for index, attachment in enumerate(payload.attachments):
        try:
            data = base64.b64decode(attachment.base64, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadError(422, f"attachments[{index}].base64: is not base64") from None
        files.append(ReceivedFile(attachment.filename, attachment.mimetype, data))
    return Received(payload.title, payload.message, payload.type, tuple(files))


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        text = error["msg"]
        if error["type"] == "missing":
            text = "is required (an Apprise json:// URL that renames it cannot post here)"
        elif error["type"] == "literal_error":
            text = "must be info, success, warning or failure"
        problems.append(f"{where}: {text}" if where else text)
    return problems


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
