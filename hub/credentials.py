"""Camera credentials encrypted at rest with Fernet; keys from the environment or a key file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

ENV_VAR = "PANTAU_SECRET_KEY"
KEY_FILE = "secret.key"


class CredentialError(Exception):
    """A key is malformed, or a token cannot be decrypted with any known key."""


def _fernet(key: str | bytes, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        # Never echo the key itself: a half-pasted key is still half a secret.
        raise CredentialError(
            f"key {position + 1} is not a Fernet key (32 url-safe base64-encoded bytes);"
            " make one with CredentialBox.generate_key()"
        ) from None


def split_keys(text: str) -> list[str]:
    """Keys separated by commas or newlines, newest first; blank entries and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [key.strip() for line in lines for key in line.split(",") if key.strip()]


class CredentialBox:
    """Encrypts with the first key and decrypts with any, so old keys can be rotated out."""

    __slots__ = ("_fernet", "_key_count", "_signing")

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes):
            raise TypeError("give a list of keys, newest first: CredentialBox(keys=[key])")
        if not keys:
            raise CredentialError("a CredentialBox needs at least one key")
        self._fernet = MultiFernet([_fernet(key, i) for i, key in enumerate(keys)])
        self._key_count = len(keys)
        self._signing = [_raw(key) for key in keys]

    def __repr__(self) -> str:
        return f"CredentialBox(keys={self._key_count})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a CredentialBox cannot be pickled; its keys stay in this process")

    @staticmethod
    def generate_key() -> str:
        """A new random key, as text."""
        return Fernet.generate_key().decode("ascii")

    @classmethod
    def from_environment(
        cls, data_dir: Path, environ: Mapping[str, str] | None = None
    ) -> CredentialBox:
        """Keys from PANTAU_SECRET_KEY, else from `<data_dir>/secret.key`, created if absent."""
        environ = os.environ if environ is None else environ
        from_env = split_keys(environ.get(ENV_VAR, ""))
        if from_env:
            return cls(keys=from_env)
        path = data_dir / KEY_FILE
        if not path.exists():
            _create_key_file(path)
        else:
            _warn_if_readable_by_others(path)
        keys = split_keys(path.read_text(encoding="ascii"))
        if not keys:
            raise CredentialError(f"{path} holds no key")
        return cls(keys=keys)

    def encrypt(self, plain: str) -> str:
        """The token for `plain`, encrypted with the newest key."""
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plain text of `token`, trying every key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise CredentialError("cannot decrypt: the token was made with another key") from None

    def sign(self, purpose: str, message: str) -> str:
        """A signature of `message` for `purpose` (url-safe text), made with the newest key.

        Each purpose signs with its own key derived from the credential key, so a signature
        made for one purpose (an acknowledge link) is worthless for any other.
        """
        return _signature(self._signing[0], purpose, message)

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        """Whether `signature` was made by `sign(purpose, message)` with any known key."""
        return any(
            hmac.compare_digest(_signature(key, purpose, message), signature)
            for key in self._signing
        )

    def rotate(self, token: str) -> str:
        """`token` re-encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise CredentialError("cannot rotate: the token was made with an unknown key") from None


def _raw(key: str | bytes) -> bytes:
    return base64.urlsafe_b64decode(key.encode("ascii") if isinstance(key, str) else key)


def _signature(key: bytes, purpose: str, message: str) -> str:
    derived = hmac.new(key, b"pantau-sign:" + purpose.encode("utf-8"), hashlib.sha256).digest()
    digest = hmac.new(derived, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: if another process made it meanwhile, fail rather than overwrite its key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(CredentialBox.generate_key() + "\n")
    os.chmod(path, 0o600)  # the umask may not have cleared every bit we want cleared
    log.warning("created a new credential key at %s; back it up with the database", path)


def _warn_if_readable_by_others(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode)
