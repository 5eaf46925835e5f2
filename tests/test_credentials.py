from __future__ import annotations

import logging
import os
import pickle
import stat
from pathlib import Path

import pytest

from hub.credentials import ENV_VAR, CredentialBox, CredentialError


def test_encrypt_then_decrypt() -> None:
    box = CredentialBox(keys=[CredentialBox.generate_key()])
    token = box.encrypt("rahasia-123")
    assert "rahasia-123" not in token
    assert box.decrypt(token) == "rahasia-123"
    assert box.encrypt("rahasia-123") != token  # fresh IV each time


def test_the_keys_never_show() -> None:
    key = CredentialBox.generate_key()
    box = CredentialBox(keys=[key, CredentialBox.generate_key()])
    assert repr(box) == "CredentialBox(keys=2)"
    assert key not in str(box)
    with pytest.raises(TypeError):
        pickle.dumps(box)
    with pytest.raises(CredentialError) as caught:
        CredentialBox(keys=[key[:-4]])
    assert key[:-4] not in str(caught.value)


def test_a_single_key_must_come_in_a_list() -> None:
    with pytest.raises(TypeError, match="list of keys"):
        CredentialBox(keys=CredentialBox.generate_key())
    with pytest.raises(CredentialError, match="at least one key"):
        CredentialBox(keys=[])


def test_rotation_moves_tokens_to_the_newest_key() -> None:
    old, new = CredentialBox.generate_key(), CredentialBox.generate_key()
    token = CredentialBox(keys=[old]).encrypt("rahasia")
    both = CredentialBox(keys=[new, old])
    assert both.decrypt(token) == "rahasia"
    rotated = both.rotate(token)
    assert CredentialBox(keys=[new]).decrypt(rotated) == "rahasia"
    with pytest.raises(CredentialError, match="another key"):
        CredentialBox(keys=[new]).decrypt(token)
    with pytest.raises(CredentialError, match="cannot rotate"):
        CredentialBox(keys=[new]).rotate(token)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = CredentialBox.from_environment(data_dir, environ={})
    key_file = data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.encrypt("rahasia")
    second = CredentialBox.from_environment(data_dir, environ={})
    assert second.decrypt(token) == "rahasia"


def test_key_file_is_private_even_under_a_loose_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        CredentialBox.from_environment(tmp_path, environ={})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_a_key_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text(CredentialBox.generate_key() + "\n")
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="hub.credentials"):
        CredentialBox.from_environment(tmp_path, environ={})
    assert "chmod 600" in caplog.text


def test_environment_keys_win_and_may_list_old_keys(tmp_path: Path) -> None:
    old, new = CredentialBox.generate_key(), CredentialBox.generate_key()
    token = CredentialBox(keys=[old]).encrypt("rahasia")
    box = CredentialBox.from_environment(tmp_path, environ={ENV_VAR: f" {new} , {old} "})
    assert repr(box) == "CredentialBox(keys=2)"
    assert box.decrypt(token) == "rahasia"
    assert not (tmp_path / "secret.key").exists()


def test_a_key_file_may_hold_old_keys_after_the_new_one(tmp_path: Path) -> None:
    old, new = CredentialBox.generate_key(), CredentialBox.generate_key()
    token = CredentialBox(keys=[old]).encrypt("rahasia")
    key_file = tmp_path / "secret.key"
    key_file.write_text(f"# newest first, then older ones\n{new}\n{old}\n")
    key_file.chmod(0o600)
    box = CredentialBox.from_environment(tmp_path, environ={})
    assert CredentialBox(keys=[new]).decrypt(box.rotate(token)) == "rahasia"


def test_an_empty_key_file_is_an_error(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text("\n")
    key_file.chmod(0o600)
    with pytest.raises(CredentialError, match="holds no key"):
        CredentialBox.from_environment(tmp_path, environ={})
