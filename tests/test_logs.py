"""Log lines name their plugin and camera, and never carry a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hub.logs import SecretRedactor, configure_logging, names_secret, redactor


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "text", stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def test_context_fields_are_rendered(captured: io.StringIO) -> None:
    logging.getLogger("hub.test").warning(
        "camera went offline", extra={"camera": "alun-alun-1", "plugin": "rtsp"}
    )
    line = captured.getvalue().strip()
    assert line.endswith("WARNING hub.test plugin=rtsp camera=alun-alun-1 camera went offline")


def test_url_credentials_and_known_secrets_are_scrubbed(captured: io.StringIO) -> None:
    redactor.add(["Sup3rSecret!"])
    log = logging.getLogger("hub.test")
    log.error(
        "connect to %s failed", "rtsp://admin:hunter22@10.0.0.5:554/ch1", extra={"camera": "c1"}
    )
    log.info("password is Sup3rSecret! (should never be logged)")
    try:
        raise ValueError("auth failed for rtsp://root:Sup3rSecret!@cam/x")
    except ValueError:
        log.exception("boom", extra={"camera": "c1"})
    out = captured.getvalue()
    assert "hunter22" not in out
    assert "Sup3rSecret!" not in out
    assert "rtsp://***@10.0.0.5:554/ch1" in out
    assert "password is *** (should never be logged)" in out


def test_json_format() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    try:
        logging.getLogger("hub.test").info("hello", extra={"plugin": "sim"})
    finally:
        logging.getLogger().removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert doc["message"] == "hello"
    assert doc["plugin"] == "sim"
    assert doc["level"] == "INFO"


def test_short_values_are_not_treated_as_secrets() -> None:
    box = SecretRedactor()
    box.add(["a", "", "abc", "abcd"])
    assert box.redact("a abc abcd") == "a abc ***"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("Bot-Token", True),
        ("smtp_pass", True),
        ("api_key", True),
        ("apikey", True),
        ("session", True),
        ("keyframe_interval", False),
        ("bypass", False),
        ("name", False),
        ("url", False),
    ],
)
def test_secret_key_names_are_judged_by_the_name_or_its_last_part(key: str, secret: bool) -> None:
    assert names_secret(key) is secret
    assert names_secret(key, frozenset({"url"})) is (key == "url")


def test_invitation_links_are_scrubbed_from_any_line() -> None:
    token = "Zx9_" + "a1B2-c3D4" * 5  # the shape hub/access/invites.py makes: 40+ URL-safe chars
    line = f'"GET /api/invites/{token} HTTP/1.1" 200; open http://hub/invite/{token}?x=1'
    scrubbed = SecretRedactor().redact(line)
    assert token not in scrubbed
    assert "/api/invites/*** HTTP/1.1" in scrubbed and "/invite/***?x=1" in scrubbed
    assert SecretRedactor().redact("/api/invites/short") == "/api/invites/short"
