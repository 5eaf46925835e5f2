"""Rotating the credential key: a new key first, every stored secret re-encrypted with it.

The credential key (`<data_dir>/secret.key`, or PANTAU_SECRET_KEY) encrypts camera passwords
and the channel URLs of queued alerts, and signs acknowledge links and audit anchors. Rotating
puts a new key first; everything stored is re-encrypted with it. The retired keys stay after it:
they still decrypt what an old backup holds and verify what they signed (audit anchors,
unexpired links), and nothing is encrypted with them again. The hub must be stopped meanwhile,
since it holds the keys it started with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.credentials import ENV_VAR, KEY_FILE, CredentialBox, CredentialError, split_keys
from hub.incidents.outbox import Outbox
from hub.registry import Registry
from hub.store import Database


class KeyRotationError(Exception):
    """Rotation cannot start; the message says what to do instead."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did."""

    key_file: Path | None
    """The key file that got the new key; None when the keys come from the environment."""
    keys: int
    """Keys known after the rotation, the new one first."""
    camera_passwords: int
    channel_urls: int


def add_key(path: Path) -> int:
    """Put a new key first in the key file (atomically, mode 600); how many keys it then holds."""
    try:
        keys = split_keys(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise KeyRotationError(
            f"{path} does not exist: the hub makes it on its first start; nothing to rotate"
        ) from None
    if not keys:
        raise KeyRotationError(f"{path} holds no key")
    CredentialBox(keys=keys)  # every old key must still be readable before one is added
    lines = [
        "# Pantau credential keys, newest first: the first encrypts, all decrypt and verify.",
        CredentialBox.generate_key(),
        *keys,
    ]
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return len(keys) + 1


async def rotate(
    db: Database,
    data_dir: Path,
    *,
    reencrypt_only: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Rotation:
    """Add a new key (unless `reencrypt_only`) and re-encrypt every stored secret with the first.

    With PANTAU_SECRET_KEY set, the hub cannot write the new key for you: put it first in the
    variable yourself (`pantau keys new`), then run with `reencrypt_only`.
    """
    environ = os.environ if environ is None else environ
    from_env = bool(split_keys(environ.get(ENV_VAR, "")))
    key_file: Path | None = None
    if not reencrypt_only:
        if from_env:
            raise KeyRotationError(
                f"the keys come from {ENV_VAR}: put a new key (pantau keys new) first in it, "
                "keep the old ones after it, comma-separated, and run pantau keys rotate "
                "--reencrypt-only"
            )
        key_file = data_dir / KEY_FILE
        add_key(key_file)
    try:
        box = CredentialBox.from_environment(data_dir, environ)
    except CredentialError as exc:
        raise KeyRotationError(str(exc)) from None
    passwords = await Registry(db, box, None).rotate_credentials()
    channels = await Outbox(db, box).rotate_channels()
    keys = len(split_keys(environ.get(ENV_VAR, ""))) if from_env else _count(data_dir)
    return Rotation(key_file, keys, passwords, channels)


def _count(data_dir: Path) -> int:
    return len(split_keys((data_dir / KEY_FILE).read_text(encoding="ascii")))
