"""`pantau diagnose`: everything a developer asks for, and not one secret of the city."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from hub.cli import main
from hub.config import Config
from hub.credentials import KEY_FILE
from hub.diagnose import Scrubber, SecretLeft, dump
from hub.registry import CameraInput
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.test_running import free_port

CAMERA_PASSWORD = "Sandi-Diagnosa-Kamera-41"
URL_PASSWORD = "Sandi-Di-Url-77"
URL_TOKEN = "TknQueryRahasia9911"
CHANNEL_TOKEN = "TknKanalRahasia5150"
API_PASSWORD = "Sandi-Lewat-Api-2026"


def city(tmp_path: Path, port: int) -> dict[str, Any]:
    return {
        "hub": {
            "data_dir": str(tmp_path / "var"),
            "streams": {"enabled": False},
            "web": {"host": "127.0.0.1", "port": port},
        },
        "owners": [{"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"}],
        "cameras": [
            {
                "id": "simpang",
                "name": "Simpang",
                "owner": "dishub",
                "url": "rtsp://127.0.0.1:9/simpang",
                "username": "admin",
                "password": CAMERA_PASSWORD,
            },
            {
                "id": "alun",
                "name": "Alun-alun",
                "owner": "dishub",
                "url": f"rtsp://admin:{URL_PASSWORD}@127.0.0.1:9/alun?token={URL_TOKEN}&ch=1",
            },
        ],
        "responders": [
            {
                "id": "damkar",
                "name": "Damkar",
                "channels": [f"json://127.0.0.1:9/hook?token={CHANNEL_TOKEN}"],
            }
        ],
    }


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Config, Hub]]:
    """A hub serving the city, with one more camera registered through the registry."""
    config = Config.model_validate(city(tmp_path, free_port()))
    hub = Hub(config)
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.hub.web.port).start()
    try:
        await hub.registry.add_camera(
            CameraInput(
                id="mall",
                name="Mall",
                owner="dishub",
                url="rtsp://127.0.0.1:9/mall",
                username="admin",
                password=API_PASSWORD,
            )
        )
        yield config, hub
    finally:
        await runner.cleanup()


async def test_the_dump_shows_that_secrets_exist_and_never_what_they_are(
    tmp_path: Path, running: tuple[Config, Hub]
) -> None:
    config, _ = running
    var = tmp_path / "var"
    admin_token = (var / TOKEN_FILE).read_text(encoding="ascii").strip()
    key = (var / KEY_FILE).read_text(encoding="ascii").strip()
    secrets = [CAMERA_PASSWORD, URL_PASSWORD, URL_TOKEN, CHANNEL_TOKEN, API_PASSWORD]
    secrets += [admin_token, key]
    log = tmp_path / "careless-plugin.txt"  # not *.log: the secret scan would search it
    # what a careless plugin might have written, and older lines that must fall off
    lines = [f"old line {n} {CAMERA_PASSWORD}" for n in range(5)] + [
        f"INFO plugin=x connecting rtsp://admin:{URL_PASSWORD}@10.0.0.5/ch1",
        f"DEBUG sent Authorization: Bearer {admin_token}",
        f"DEBUG key {key} password {API_PASSWORD} json://h/hook?token={CHANNEL_TOKEN}",
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = await dump(config, log_file=log, lines=3, environ={"PANTAU_SECRET_KEY": ""})
    raw = text.encode("utf-8")
    for secret in secrets:
        assert secret.encode("utf-8") not in raw
    document = json.loads(text)
    assert document["versions"]["pantau"] and document["versions"]["pyav"]
    assert "libavcodec" in document["versions"]["ffmpeg"]
    cameras = document["config"]["document"]["cameras"]
    assert cameras[0]["password"] == "***"
    # the config splits a URL's user and password out; the URL's token stays, hidden
    assert cameras[1]["url"] == "rtsp://127.0.0.1:9/alun?token=***&ch=1"
    assert cameras[1]["password"] == "***"
    assert document["config"]["document"]["responders"][0]["channels"][0]["url"] == "***"
    assert document["credential_keys"]["count"] == 1 and document["admin"]["token_exists"]
    store = document["store"]
    assert store["revision"] == store["head"] and "problem" not in store
    registered = {camera["id"]: camera for camera in store["cameras"]}
    assert registered["mall"]["has_password"] is True and set(registered) == {
        "simpang",
        "alun",
        "mall",
    }
    hub = document["running_hub"]
    assert hub["reachable"] and hub["health"]["cameras"] == 3
    assert {p["name"]: p["state"] for p in hub["plugins"]}["rtsp"] == "running"
    assert {p["name"] for p in document["plugins"]} >= {"rtsp", "hikvision", "dahua", "onvif"}
    shown = document["log"]["lines"]
    assert len(shown) == 3 and shown[0] == "INFO plugin=x connecting rtsp://***@10.0.0.5/ch1"
    assert shown[1] == "DEBUG sent Authorization: Bearer ***"
    assert shown[2] == "DEBUG key *** password *** json://h/hook?token=***"


def test_the_command_writes_a_private_file_and_says_when_the_hub_is_down(
    tmp_path: Path,
) -> None:
    path = tmp_path / "city.json"
    path.write_text(json.dumps(city(tmp_path, free_port())), encoding="utf-8")
    out = tmp_path / "diagnose.json"
    result = CliRunner().invoke(main, ["diagnose", "-c", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    assert CAMERA_PASSWORD not in text and URL_PASSWORD not in text and CHANNEL_TOKEN not in text
    document = json.loads(text)
    assert document["running_hub"]["reachable"] is False
    assert "is `pantau run` running?" in document["running_hub"]["problem"]
    assert document["store"]["problem"].startswith("no store yet")
    assert document["log"] == {"problem": "no log file given (--log FILE)"}


def test_a_secret_left_in_the_text_stops_the_dump() -> None:
    scrub = Scrubber(["Tersisa-Rahasia-1"])
    assert scrub.data({"note": "x Tersisa-Rahasia-1 y", "bot_token": "abc"}) == {
        "note": "x *** y",
        "bot_token": "***",
    }
    with pytest.raises(SecretLeft, match="nothing was written"):
        scrub.check('{"note": "Tersisa-Rahasia-1"}')
