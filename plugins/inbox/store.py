"""The messages the inbox keeps: the newest few, in memory and under the plugin's data folder.

`messages.json` holds the list (rewritten whole and atomically on every change: it is small);
`files/` the attachments, each stored once under a name made of its content's hash, so a URL
always means the same bytes. Attachments show people (snapshots): folder and files are readable
by the hub's user only, as the incident spool is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from plugins.inbox.options import InboxOptions
from plugins.inbox.payload import NotifyType, Received, ReceivedFile

log = logging.getLogger(__name__)

INDEX = "messages.json"
FILES = "files"

IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
"""Pictures the page shows inline; anything else is only offered as a download."""
FILE_NAME = re.compile(r"^[0-9a-f]{32}\.(?:jpg|png|gif|webp|bin)$")


def sniff(data: bytes) -> str:
    """The stored file's suffix, from its first bytes: what it is, not what the sender says."""
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".bin"


class StoredFile(BaseModel):
    """An attachment of a kept message."""

    model_config = ConfigDict(frozen=True)

    filename: str
    """The sender's name for it: shown, never used as a path."""
    mimetype: str
    """The sender's type for it; the stored name's suffix is what it really is."""
    size: int
    stored: str
    """Its file under `files/`: the content's hash and a suffix."""

    @property
    def is_image(self) -> bool:
        """Whether the page shows it inline."""
        return Path(self.stored).suffix in IMAGE_TYPES


class Message(BaseModel):
    """One notification the inbox received."""

    model_config = ConfigDict(frozen=True)

    id: int
    received: datetime
    title: str
    body: str
    type: NotifyType
    attachments: tuple[StoredFile, ...] = ()


class _Index(BaseModel):
    """What `messages.json` holds."""

    version: Literal[1] = 1
    next_id: int = 1
    messages: list[Message]


class Inbox:
    """The newest messages, at most `max_messages` of them and `max_stored_bytes` of files."""

    def __init__(self, directory: Path, options: InboxOptions) -> None:
        self.directory = directory
        self.options = options
        self._messages: list[Message] = []  # oldest first
        self._next_id = 1
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._messages)

    def newest_first(self) -> list[Message]:
        """Every kept message, the newest first."""
        return self._messages[::-1]

    def file_path(self, stored: str) -> Path | None:
        """The path of an attachment file a kept message holds; None for any other name."""
        if not FILE_NAME.match(stored) or stored not in self._stored_names():
            return None
        return self.directory / FILES / stored

    async def load(self) -> None:
        """Read what an earlier run kept; an unreadable list is logged and started afresh."""
        await asyncio.to_thread(self._load)

    async def add(self, received: Received) -> Message:
        """Keep a message, dropping the oldest ones beyond the limits; returns it with its id."""
        async with self._lock:
            files = [await asyncio.to_thread(self._write_file, item) for item in received.files]
            message = Message(
                id=self._next_id,
                received=datetime.now(UTC),
                title=received.title,
                body=received.body,
                type=received.type,
                attachments=tuple(files),
            )
            self._next_id += 1
            self._messages.append(message)
            dropped = self._trim()
            await asyncio.to_thread(self._save, list(self._messages), self._next_id)
            if dropped:
                await asyncio.to_thread(self._delete_unused, _names(dropped), self._stored_names())
        return message

    # -- in worker threads

    def _load(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / INDEX
        index = _Index(messages=[])
        if path.exists():
            try:
                index = _Index.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                log.error("inbox: %s is unreadable, starting empty: %s", path, _first_line(exc))
        files = self.directory / FILES
        kept = []
        for message in index.messages:
            present = tuple(f for f in message.attachments if (files / f.stored).is_file())
            kept.append(message.model_copy(update={"attachments": present}))
        self._messages = kept
        self._next_id = max([index.next_id, *(m.id + 1 for m in kept)])
        self._trim()
        # what no kept message holds: files of dropped messages, or of a run that stopped midway
        self._delete_unused(self._files_on_disk(), self._stored_names())
        for temporary in self.directory.glob(".inbox-*"):
            temporary.unlink(missing_ok=True)

    def _write_file(self, item: ReceivedFile) -> StoredFile:
        folder = self.directory / FILES
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stored = hashlib.sha256(item.data).hexdigest()[:32] + sniff(item.data)
        path = folder / stored
        if not path.exists():
            _write_atomically(path, item.data)
        return StoredFile(
            filename=item.filename, mimetype=item.mimetype, size=len(item.data), stored=stored
        )

    def _save(self, messages: list[Message], next_id: int) -> None:
        index = _Index(next_id=next_id, messages=messages)
        _write_atomically(self.directory / INDEX, index.model_dump_json().encode("utf-8"))

    def _delete_unused(self, names: list[str], used: set[str]) -> None:
        for name in names:
            if name not in used:
                (self.directory / FILES / name).unlink(missing_ok=True)

    # -- plain bookkeeping

    def _trim(self) -> list[Message]:
        """Drop the oldest messages beyond the limits (never the newest one); the dropped."""
        dropped = []
        while len(self._messages) > 1 and (
            len(self._messages) > self.options.max_messages
            or self._stored_bytes() > self.options.max_stored_bytes
        ):
            dropped.append(self._messages.pop(0))
        return dropped

    def _stored_names(self) -> set[str]:
        return {f.stored for m in self._messages for f in m.attachments}

    def _stored_bytes(self) -> int:
        sizes = {f.stored: f.size for m in self._messages for f in m.attachments}
        return sum(sizes.values())

    def _files_on_disk(self) -> list[str]:
        folder = self.directory / FILES
        return [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the whole file or none; mode 600."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".inbox-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _names(messages: list[Message]) -> list[str]:
    return [f.stored for m in messages for f in m.attachments]


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
