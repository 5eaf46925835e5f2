"""`pantau cameras channels NVR --add`: an NVR's channels become cameras of its owner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner, Result

from hub.cli import main
from tests.plugins.hikvision.device import PASSWORD, USERNAME, FakeDevice, nvr_answers, serve


def write_city(tmp_path: Path, port: int) -> Path:
    city = {
        "hub": {"data_dir": str(tmp_path / "var"), "streams": {"enabled": False}},
        "owners": [{"id": "mall", "name": "Sunrise Mall", "kind": "private"}],
        "cameras": [
            {
                "id": "mall-nvr",
                "name": "Sunrise Mall NVR",
                "owner": "mall",
                "vendor": "hikvision",
                "host": "127.0.0.1",
                "port": port,
                "username": USERNAME,
                "password": PASSWORD,
            }
        ],
    }
    path = tmp_path / "city.yaml"
    path.write_text(json.dumps(city), encoding="utf-8")  # JSON is YAML
    return path


async def pantau(*arguments: str) -> Result:
    # the CLI runs its own event loop, so not on this one
    return await asyncio.to_thread(CliRunner().invoke, main, list(arguments))


async def test_an_nvr_s_channels_become_cameras_of_its_owner(tmp_path: Path) -> None:
    async with serve(nvr_answers(FakeDevice())) as nvr:
        city = str(write_city(tmp_path, nvr.port))
        listed = await pantau("cameras", "channels", "mall-nvr", "-c", city)
        assert listed.exit_code == 0, listed.output
        assert "Pos 07" in listed.stdout and "mall-nvr-7" in listed.stdout
        assert "16 channels; --add makes each a camera" in listed.stdout
        added = await pantau("cameras", "channels", "mall-nvr", "-c", city, "--add")
        assert added.exit_code == 0, added.output
        assert "added 16 cameras, 0 already there" in added.stdout
        again = await pantau("cameras", "channels", "mall-nvr", "-c", city, "--add")
        assert "added 0 cameras, 16 already there" in again.stdout
    cameras = await pantau("cameras", "list", "-c", city, "--json")
    by_id = {camera["id"]: camera for camera in json.loads(cameras.stdout)}
    seventh = by_id["mall-nvr-7"]
    assert (seventh["name"], seventh["owner"], seventh["vendor"]) == ("Pos 07", "mall", "hikvision")
    assert seventh["options"] == {"channel": 7} and seventh["has_password"] is True
    assert (seventh["host"], seventh["port"]) == ("127.0.0.1", by_id["mall-nvr"]["port"])
    assert PASSWORD not in cameras.stdout + added.stdout


async def test_a_camera_that_is_only_a_stream_has_no_channels(tmp_path: Path) -> None:
    city = tmp_path / "city.yaml"
    city.write_text(
        json.dumps(
            {
                "hub": {"data_dir": str(tmp_path / "var")},
                "owners": [{"id": "mall", "name": "Sunrise Mall", "kind": "private"}],
                "cameras": [
                    {"id": "lobi", "name": "Lobi", "owner": "mall", "url": "rtsp://10.0.0.5/1"}
                ],
            }
        )
    )
    result = await pantau("cameras", "channels", "lobi", "-c", str(city))
    assert result.exit_code == 1
    assert "vendor 'rtsp' cannot list channels" in result.output
