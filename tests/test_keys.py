"""`pantau keys rotate`: a new key first, every stored secret re-encrypted with it, nothing lost."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.config import Config
from hub.credentials import ENV_VAR, KEY_FILE, CredentialBox, split_keys
from hub.incidents.outbox import Outbox
from hub.registry import CameraInput, CameraSource
from hub.runtime import Hub
from hub.store.models import CameraRow, NotificationJobRow
from tests.incidents.outbox_kit import job, opening
from tests.test_running import free_port

CAMERA_PASSWORD = "Sandi-Gerbang-77"
CHANNEL = "tgram://123456:AAH-rahasia-bot-token/-100200300"


def city(tmp_path: Path, port: int) -> Path:
    data = {
        "hub": {"data_dir": str(tmp_path / "var"), "web": {"port": port}},
        "owners": [{"id": "dlh", "name": "DLH", "kind": "opd"}],
    }
    path = tmp_path / "city.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load(config_file: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8"))
    return data


async def stored(config_file: Path) -> tuple[str, str]:
    """The camera password and the channel URL tokens as they are in the store."""
    hub = Hub(Config.model_validate(load(config_file)))
    try:
        await hub.open_store()
        async with hub.db.session() as session:
            password = await session.scalar(select(CameraRow.password_encrypted))
            channel = await session.scalar(select(NotificationJobRow.channel_url_encrypted))
        assert password is not None and channel is not None
        return password, channel
    finally:
        await hub.db.close()


async def prepare(config_file: Path) -> None:
    """The camera in the registry (password encrypted) and one queued alert (channel too)."""
    config = Config.model_validate(load(config_file))
    hub = Hub(config)
    try:
        registry = await hub.open_store()
        await registry.sync_from_config(config)
        # added through the API or an import: its password is kept, encrypted, in the store
        camera = CameraInput(
            id="gerbang",
            name="Gerbang",
            owner="dlh",
            url=f"rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:9/live",
        )
        await registry.add_camera(camera, source=CameraSource.API)
        change, fields = opening()
        await Outbox(hub.db, hub.credentials).record(change, fields, [job("k1", CHANNEL)])
    finally:
        await hub.db.close()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Path]:
    config_file = city(tmp_path, free_port())
    await prepare(config_file)
    yield config_file


async def test_rotation_re_encrypts_everything_with_a_new_first_key(
    setup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    key_file = tmp_path / "var" / KEY_FILE
    (old_key,) = split_keys(key_file.read_text(encoding="ascii"))
    before = await stored(setup)
    result = await asyncio.to_thread(CliRunner().invoke, main, ["keys", "rotate", "-c", str(setup)])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 camera passwords and 1 alert channels with the first of 2 keys" in (
        result.output
    )
    new_key, kept = split_keys(key_file.read_text(encoding="ascii"))
    assert kept == old_key and new_key != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    after = await stored(setup)
    assert after[0] != before[0] and after[1] != before[1]
    only_new = CredentialBox(keys=[new_key])  # proves nothing still needs the old key
    assert only_new.decrypt(after[0]) == CAMERA_PASSWORD
    assert only_new.decrypt(after[1]) == CHANNEL
    for secret in (CAMERA_PASSWORD, CHANNEL, new_key, old_key):
        assert secret not in result.output


async def test_keys_from_the_environment_are_re_encrypted_after_the_operator_adds_one(
    setup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (old_key,) = split_keys((tmp_path / "var" / KEY_FILE).read_text(encoding="ascii"))
    monkeypatch.setenv(ENV_VAR, old_key)
    refused = await asyncio.to_thread(
        CliRunner().invoke, main, ["keys", "rotate", "-c", str(setup)]
    )
    assert refused.exit_code == 1 and f"the keys come from {ENV_VAR}" in refused.output
    new_key = CliRunner().invoke(main, ["keys", "new"]).output.strip()
    monkeypatch.setenv(ENV_VAR, f"{new_key},{old_key}")
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["keys", "rotate", "--reencrypt-only", "-c", str(setup)]
    )
    assert result.exit_code == 0, result.output
    password, channel = await stored(setup)
    only_new = CredentialBox(keys=[new_key])
    assert only_new.decrypt(password) == CAMERA_PASSWORD and only_new.decrypt(channel) == CHANNEL


async def test_a_running_hub_is_not_rotated_under(setup: Path, tmp_path: Path) -> None:
    port = load(setup)["hub"]["web"]["port"]

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/api/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        before = (tmp_path / "var" / KEY_FILE).read_text(encoding="ascii")
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["keys", "rotate", "-c", str(setup)]
        )
    finally:
        await runner.cleanup()
    assert result.exit_code == 1 and "stop it first" in result.output
    assert (tmp_path / "var" / KEY_FILE).read_text(encoding="ascii") == before
