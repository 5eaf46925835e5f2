"""Clips over HTTP, on a real hub watching cameras served by GStreamer's RTSP server: cut,
masked, asked of the sharing agreement at cut and at download, kept to their owner, audited."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.audit import Action
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from tests.streams.conftest import RtspTestServer
from tests.test_running import free_port
from tests.web.conftest import PASSWORD

SQUARE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]
"""The middle quarter of the street camera's 320x240 picture: x 80-240, y 60-180."""
USERS = {
    "ana": (Role.ADMIN, None),
    "sari": (Role.OPERATOR, None),
    "mall-it": (Role.OWNER, "sunrise"),
}


class City:
    """A running hub with the street camera of Dishub (masked) and Sunrise Mall's lobby."""

    def __init__(self, hub: Hub, base: str) -> None:
        self.hub = hub
        self.base = base
        self.clients: dict[str, aiohttp.ClientSession] = {}

    async def sign_in(self, name: str) -> None:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.clients[name] = http
        body = {"name": name, "password": PASSWORD}
        async with http.post(self.base + "/api/login", json=body) as answer:
            assert answer.status == 200, await answer.text()

    async def call(
        self, name: str, method: str, path: str, **options: Any
    ) -> tuple[int, Any, dict[str, str]]:
        async with self.clients[name].request(method, self.base + path, **options) as answer:
            raw = await answer.read()
            kind = answer.headers.get("Content-Type", "")
            body = json.loads(raw) if kind.startswith("application/json") else raw
            return answer.status, body, dict(answer.headers)

    async def ready(self, name: str, clip_id: str) -> dict[str, Any]:
        """The clip once it is no longer being cut."""
        async with asyncio.timeout(30):
            while True:
                status, clip, _ = await self.call(name, "GET", f"/api/clips/{clip_id}")
                assert status == 200, clip
                if clip["state"] != "cutting":
                    return dict(clip)
                await asyncio.sleep(0.3)


@pytest.fixture
async def city(rtsp_server: RtspTestServer, tmp_path: Path) -> AsyncIterator[City]:
    street = rtsp_server.add_mount(
        "clips-street", "testsrc", pattern="smpte", width=320, height=240, fps=15, gop=1
    )
    lobby = rtsp_server.add_mount("clips-lobby", "testsrc", width=320, height=240, fps=15, gop=1)
    port = free_port()
    config = Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "web": {"host": "127.0.0.1", "port": port},
                "streams": {"keyframe_interval": 1.0, "pre_roll": 3.0},
                "sharing": {"default_opd": "live", "default_private": "registry"},
            },
            "owners": [
                {"id": "dishub", "name": "Dishub", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                {
                    "id": "simpang",
                    "name": "Simpang Lima",
                    "owner": "dishub",
                    "url": street,
                    "options": {"privacy_masks": [SQUARE]},
                },
                {"id": "mall-lobi", "name": "Lobi", "owner": "sunrise", "url": lobby},
            ],
        }
    )
    hub = Hub(config)
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    city = City(hub, f"http://127.0.0.1:{port}")
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        accounts = Accounts(hub.db)
        for name, (role, owner) in USERS.items():
            await accounts.users.add(name, role, PASSWORD, owner=owner)
            await city.sign_in(name)
        engine = hub.streams
        assert engine is not None
        async with asyncio.timeout(20):  # both cameras' keyframes reach the pre-roll
            while not all(map(engine.snapshot, ("simpang", "mall-lobi"))):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        yield city
    finally:
        for http in city.clients.values():
            await http.close()
        await runner.cleanup()
        rtsp_server.remove_mount("clips-street")
        rtsp_server.remove_mount("clips-lobby")


def masked_in_every_frame(video: bytes) -> int:
    """Frames of the MP4, each checked: grey inside the square, the colour bars outside."""
    frames = 0
    with av.open(io.BytesIO(video), "r") as clip:
        for frame in clip.decode(video=0):
            luma = frame.to_ndarray(format="gray")
            inside = luma[66:174, 86:234]
            assert abs(float(inside.mean()) - 128) < 4 and int(np.ptp(inside)) <= 12, frames
            assert float(luma[:50].std()) > 20, frames  # the bars above the square are not
            frames += 1
    return frames


async def test_clips_are_cut_masked_shared_kept_to_their_owner_and_audited(city: City) -> None:
    hub = city.hub
    body = {"pre": 2, "post": 1, "purpose": "cek kecelakaan"}
    status, street, headers = await city.call(
        "sari", "POST", "/api/cameras/simpang/clips", json=body
    )
    assert status == 202, street
    assert street["state"] == "cutting" and headers["Location"] == f"/api/clips/{street['id']}"
    status, lobby, _ = await city.call(
        "mall-it", "POST", "/api/cameras/mall-lobi/clips", json={"pre": 1, "post": 1}
    )
    assert status == 202, lobby

    # the lobby shares registry only with the command center; its owner cuts it all the same
    status, refused, _ = await city.call("sari", "POST", "/api/cameras/mall-lobi/clips", json={})
    assert status == 403 and "registry" in refused["error"], refused
    # another owner's camera does not exist for the mall's user
    status, missing, _ = await city.call("mall-it", "POST", "/api/cameras/simpang/clips", json={})
    assert status == 404, missing
    status, bad, _ = await city.call(
        "sari", "POST", "/api/cameras/simpang/clips", json={"pre": 9, "post": 1}
    )
    assert status == 400 and "pre must be at most 3 s" in bad["error"]

    street = await city.ready("sari", street["id"])
    assert street["state"] == "ready" and street["masked"], street
    assert street["duration"] >= 0.9 and street["created_by"] == "sari"  # post, at least
    status, video, headers = await city.call("sari", "GET", street["video"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert len(video) == street["size"]
    assert masked_in_every_frame(video) == street["frames"]
    status, part, headers = await city.call(
        "sari", "GET", street["video"], headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and part == video[:100]
    if shutil.which("ffprobe") is not None:
        probe = await asyncio.to_thread(
            subprocess.run,
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", "-"],
            input=video, capture_output=True, check=True,
        )  # fmt: skip
        stream = json.loads(probe.stdout)["streams"][0]
        assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    # only the masked file is on disk: the remux is gone
    folder = hub.data_dir / "clips" / "simpang"
    assert sorted(p.name for p in folder.iterdir()) == [f"{street['id']}.mp4"]

    lobby = await city.ready("mall-it", lobby["id"])
    assert lobby["state"] == "ready" and not lobby["masked"], lobby
    status, own, _ = await city.call("mall-it", "GET", lobby["video"])
    assert status == 200 and len(own) == lobby["size"]
    # the mall's user sees only its own clips; the street's clip does not exist for it
    status, listed, _ = await city.call("mall-it", "GET", "/api/clips")
    assert [c["id"] for c in listed["clips"]] == [lobby["id"]]
    for path in (street["url"], street["video"]):
        status, _, _ = await city.call("mall-it", "GET", path)
        assert status == 404, path
    status, listed, _ = await city.call("sari", "GET", "/api/clips")
    assert {c["id"] for c in listed["clips"]} == {street["id"], lobby["id"]}
    # the agreement is asked again at download: the command center may not take the lobby's
    status, refused, _ = await city.call("sari", "GET", lobby["video"])
    assert status == 403 and "registry" in refused["error"], refused

    exports = await hub.audit.records(action=Action.CLIP_EXPORT)
    seen = sorted((r.camera_id, r.actor_name, r.details.get("range", "")) for r in exports)
    assert seen == [
        ("mall-lobi", "mall-it", ""),
        ("simpang", "sari", ""),
        ("simpang", "sari", "bytes=0-99"),
    ]
    first = next(r for r in exports if r.camera_id == "simpang" and "range" not in r.details)
    assert first.owner_id == "dishub"
    assert first.details["clip"] == street["id"]
    assert first.details["clip_purpose"] == "cek kecelakaan"


def unmasked_in_every_frame(video: bytes) -> int:
    """Frames of the MP4, each checked: the colour bars run through the square too."""
    frames = 0
    with av.open(io.BytesIO(video), "r") as clip:
        for frame in clip.decode(video=0):
            inside = frame.to_ndarray(format="gray")[66:174, 86:234]
            assert int(np.ptp(inside)) > 50, frames
            frames += 1
    return frames


async def test_a_clip_cut_during_an_approved_mask_lift_goes_out_unmasked(city: City) -> None:
    body = {"reason": "mencari pelaku di balik jendela", "minutes": 1}
    status, lift, _ = await city.call("sari", "POST", "/api/cameras/simpang/mask-lifts", json=body)
    assert status == 201, lift
    status, approved, _ = await city.call("ana", "POST", f"/api/mask-lifts/{lift['id']}/approve")
    assert status == 200, approved

    status, clip, _ = await city.call(
        "sari", "POST", "/api/cameras/simpang/clips", json={"pre": 1, "post": 1}
    )
    assert status == 202 and clip["masked"] is False, clip
    clip = await city.ready("sari", clip["id"])
    assert clip["state"] == "ready" and clip["masked"] is False, clip
    status, video, _ = await city.call("sari", "GET", clip["video"])
    assert status == 200
    assert unmasked_in_every_frame(video) == clip["frames"]
    (export,) = await city.hub.audit.records(action=Action.CLIP_EXPORT)
    assert export.details["mask_lifted"] is True and export.details["masked"] is False
