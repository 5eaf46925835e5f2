"""Helpers to write a configuration into a temporary folder and load it by a relative path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.config import Config, ConfigError, load_config

WriteConfig = Callable[..., Path]
Problems = Callable[..., list[str]]
Valid = Callable[..., Config]


def dedent(text: str) -> str:
    """Dedent YAML written inline in a test, so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteConfig:
    """Write files into tmp_path (made the current folder) and return the relative config path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "pantau.yaml", secrets: str | None = None) -> Path:
        if secrets is not None:
            (tmp_path / "secrets.yaml").write_text(dedent(secrets), encoding="utf-8")
        (tmp_path / name).write_text(dedent(text), encoding="utf-8")
        return Path(name)

    return write


@pytest.fixture
def problems(write_config: WriteConfig) -> Problems:
    """Load a configuration text that must fail, and return its issues as lines of text."""

    def load(
        text: str, secrets: str | None = None, environ: dict[str, str] | None = None
    ) -> list[str]:
        path = write_config(text, secrets=secrets)
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ=environ or {})
        lines = str(caught.value).splitlines()
        assert lines == [str(issue) for issue in caught.value.issues]
        return lines

    return load


@pytest.fixture
def valid(write_config: WriteConfig) -> Valid:
    """Load a configuration text that must be valid."""

    def load(
        text: str, secrets: str | None = None, environ: dict[str, str] | None = None
    ) -> Config:
        return load_config(write_config(text, secrets=secrets), environ=environ or {})

    return load
