"""A snapshot leaving through the API is recorded first: who, which camera, from where."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from hub.audit import Action
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.test_running import free_port

FOOTAGE = Path(__file__).resolve().parents[1] / "fixtures" / "media" / "car-detection.mp4"


async def test_a_snapshot_is_recorded_before_it_is_sent(tmp_path: Path) -> None:
    port = free_port()
    config = Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"keyframe_interval": 1},
                "web": {"host": "127.0.0.1", "port": port},
            },
            "owners": [{"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"}],
            "cameras": [
                {"id": "simpang", "name": "Simpang", "owner": "dishub", "url": f"file://{FOOTAGE}"}
            ],
        }
    )
    hub = Hub(config)
    runner = web.AppRunner(build_app(hub))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{port}/api/cameras/simpang/snapshot"
        async with aiohttp.ClientSession(headers=headers) as http:
            async with asyncio.timeout(30):
                while True:
                    async with http.get(url) as answer:
                        if answer.status == 200:
                            picture = await answer.read()
                            break
                    await asyncio.sleep(0.2)
            assert picture[:2] == b"\xff\xd8"
            async with http.get(f"http://127.0.0.1:{port}/api/cameras/nowhere/snapshot") as gone:
                assert gone.status == 404
        views = await hub.audit.records(action=Action.SNAPSHOT_VIEW)
        assert len(views) == 1  # the 404s before a picture existed showed nothing: no record
        (view,) = views
        assert (view.camera_id, view.owner_id, view.source) == ("simpang", "dishub", "127.0.0.1")
        assert view.actor == "admin-token" and token not in repr(view)
    finally:
        await runner.cleanup()
