"""The responder inbox: real Apprise notifications into a running hub, read back as people would."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import apprise
import av
import numpy as np
import pytest
from aiohttp import web

from hub.config import Config
from hub.plugins import PluginState
from hub.runtime import Hub
from hub.streams.pictures import to_jpeg
from hub.web import build_app
from plugins.inbox.page import linkify
from plugins.inbox.routes import is_loopback
from tests.test_running import free_port

TITLE = "[TINGGI] Terminal Kembangjoyo <gelap> & sepi"
BODY = (
    "Kamera <b>gelap</b> & <script>alert('x')</script> pukul 21:03 WIB\n"
    "Lokasi: Terminal Kembangjoyo, "
    "https://www.openstreetmap.org/?mlat=-6.738100&mlon=111.021300#map=18/-6.738100/111.021300\n"
    "ref: 3f2a"
)
MAP = (
    "https://www.openstreetmap.org/?mlat=-6.738100&amp;mlon=111.021300#map=18/-6.738100/111.021300"
)


@dataclass
class Running:
    hub: Hub
    port: int
    data_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/plugins/inbox"

    @property
    def channel(self) -> str:
        """The Apprise URL a responder would be given."""
        return f"json://127.0.0.1:{self.port}/plugins/inbox/messages"


@asynccontextmanager
async def running_hub(
    data_dir: Path, inbox: dict[str, Any] | None, listen: str = "127.0.0.1"
) -> AsyncIterator[Running]:
    """A hub with no cameras and no streams, serving HTTP, with the inbox configured so."""
    port = free_port()
    config = Config.model_validate(
        {
            "hub": {
                "name": "Pantau Pati",
                "data_dir": str(data_dir),
                "web": {"host": "127.0.0.1", "port": port},
                "streams": {"enabled": False},
            },
            "plugins": {} if inbox is None else {"inbox": inbox},
        }
    )
    hub = Hub(config)
    runner = web.AppRunner(build_app(hub), shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, listen, port).start()
        yield Running(hub, port, data_dir)
    finally:
        await runner.cleanup()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_hub(tmp_path / "var", {"enabled": True}) as hub:
        yield hub


@pytest.fixture(scope="module")
def snapshot() -> bytes:
    """A real JPEG, made by the hub's own keyframe encoder."""
    ramp = np.linspace(0, 255, 320, dtype=np.uint8)
    rgb = np.stack(
        [np.tile(ramp, (180, 1)), np.tile(ramp[::-1], (180, 1)), np.full((180, 320), 60, np.uint8)],
        axis=-1,
    )
    return to_jpeg(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"))


async def send(
    channel: str,
    title: str,
    body: str,
    attachments: list[Path] | None = None,
    notify_type: apprise.NotifyType = apprise.NotifyType.WARNING,
) -> bool:
    """Notify through Apprise exactly as the hub's delivery worker does."""
    notifier = apprise.Apprise()
    assert notifier.add(channel)
    attach = apprise.AppriseAttachment([str(p) for p in attachments]) if attachments else None
    outcome = await notifier.async_notify(
        body=body,
        title=title,
        notify_type=notify_type,
        body_format=apprise.NotifyFormat.TEXT,
        attach=attach,
        timeout=10,
    )
    with outcome:
        return bool(outcome)


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, dict(answer.headers), await answer.read()


async def post(url: str, data: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def messages(running: Running) -> list[dict[str, Any]]:
    status, _, raw = await get(f"{running.base}/messages")
    assert status == 200
    found: list[dict[str, Any]] = json.loads(raw)["messages"]
    return found


def wire(**changes: Any) -> bytes:
    """An Apprise json:// body as Apprise 2.2 builds it, with `changes`."""
    payload = {"version": "1.0", "title": "t", "message": "m", "attachments": [], "type": "info"}
    payload.update(changes)
    return json.dumps(payload).encode()


# -- what a responder sees ------------------------------------------------------------------------


async def test_an_apprise_alert_with_a_snapshot_shows_on_the_page_and_in_the_list(
    running: Running, snapshot: bytes, tmp_path: Path
) -> None:
    picture = tmp_path / "snapshot.jpg"
    picture.write_bytes(snapshot)
    assert await send(running.channel, TITLE, BODY, [picture])

    [message] = await messages(running)
    assert (message["id"], message["type"]) == (1, "warning")
    assert (message["title"], message["body"]) == (TITLE, BODY)
    [file] = message["attachments"]
    assert (file["filename"], file["mimetype"], file["size"], file["image"]) == (
        "snapshot.jpg",
        "image/jpeg",
        len(snapshot),
        True,
    )
    assert file["url"].startswith("/plugins/inbox/files/")
    status, headers, data = await get(f"http://127.0.0.1:{running.port}{file['url']}")
    assert status == 200 and data == snapshot
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["X-Content-Type-Options"] == "nosniff"

    status, headers, raw = await get(f"{running.base}/")
    page = raw.decode()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script
    assert "<script" not in page
    assert "Terminal Kembangjoyo &lt;gelap&gt; &amp; sepi" in page
    assert "Kamera &lt;b&gt;gelap&lt;/b&gt; &amp; &lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert f'<a href="{MAP}" rel="noopener noreferrer nofollow">{MAP}</a>' in page
    relative = file["url"].removeprefix("/plugins/inbox/")
    assert f'<img src="{relative}" alt="snapshot.jpg"' in page
    assert re.search(r"received <time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB</time>", page)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert f"json://127.0.0.1:{running.port}/plugins/inbox/messages" in page


async def test_newest_first_within_the_limits_and_dropped_files_go_too(
    tmp_path: Path, snapshot: bytes
) -> None:
    options = {"enabled": True, "max_messages": 3}
    async with running_hub(tmp_path / "var", options) as running:
        for number in range(1, 6):
            picture = snapshot + number.to_bytes(2, "big")  # five different files
            attachment = {
                "filename": f"s{number}.jpg",
                "base64": base64.b64encode(picture).decode(),
                "mimetype": "image/jpeg",
            }
            status, answer = await post(
                f"{running.base}/messages", wire(title=f"no {number}", attachments=[attachment])
            )
            assert (status, answer) == (200, {"id": number})
        kept = await messages(running)
        assert [m["title"] for m in kept] == ["no 5", "no 4", "no 3"]
        files = sorted(p.name for p in (running.data_dir / "plugins/inbox/files").iterdir())
        assert files == sorted(m["attachments"][0]["url"].rsplit("/", 1)[1] for m in kept)


async def test_a_restart_keeps_the_messages_and_their_pictures(
    tmp_path: Path, snapshot: bytes
) -> None:
    picture = tmp_path / "snapshot.jpg"
    picture.write_bytes(snapshot)
    async with running_hub(tmp_path / "var", {"enabled": True}) as running:
        assert await send(running.channel, "pertama", "satu", [picture])
        assert await send(running.channel, "kedua", "dua")
    folder = tmp_path / "var" / "plugins" / "inbox"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in (folder / "files").iterdir())
    async with running_hub(tmp_path / "var", {"enabled": True}) as running:
        assert await send(running.channel, "ketiga", "tiga")
        kept = await messages(running)
        assert [(m["id"], m["title"]) for m in kept] == [
            (3, "ketiga"),
            (2, "kedua"),
            (1, "pertama"),
        ]
        url = kept[2]["attachments"][0]["url"]
        status, _, data = await get(f"http://127.0.0.1:{running.port}{url}")
        assert status == 200 and data == snapshot


async def test_a_file_that_is_not_a_picture_is_only_a_download(running: Running) -> None:
    page = b"<html><script>alert(1)</script></html>"
    attachment = {"filename": "foto.jpg", "base64": base64.b64encode(page).decode()}
    status, _ = await post(f"{running.base}/messages", wire(attachments=[attachment]))
    assert status == 200
    [file] = (await messages(running))[0]["attachments"]
    assert file["image"] is False and file["url"].endswith(".bin")
    status, headers, data = await get(f"http://127.0.0.1:{running.port}{file['url']}")
    assert status == 200 and data == page
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;")
    _, _, html = await get(f"{running.base}/")
    assert b"<img" not in html and b">foto.jpg</a> (38 B)" in html


# -- what the inbox refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"title=x&message=y", "application/x-www-form-urlencoded", 415, "Content-Type"),
        (b"{not json", "application/json", 400, "the body is not JSON"),
        (b"\xff\xfe\x00", "application/json", 400, "the body is not JSON"),
        (b'["title", "message"]', "application/json", 422, "expected a JSON object"),
        (b"[" * 4000, "application/json", 400, "the body is not JSON"),
        (b'{"title": "x"}', "application/json", 422, "message: is required"),
        (wire(message=5), "application/json", 422, "message: Input should be a valid string"),
        (wire(type="panic"), "application/json", 422, "type: must be info, success, warning"),
        (wire(title="x" * 1001), "application/json", 422, "title: String should have at most"),
        (wire(attachments={}), "application/json", 422, "attachments: Input should be a valid"),
        (
            wire(attachments=[{"filename": "a.jpg"}]),
            "application/json",
            422,
            "attachments[0].base64: is required",
        ),
        (
            wire(attachments=[{"base64": "not base64!"}]),
            "application/json",
            422,
            "attachments[0].base64: is not base64",
        ),
        (
            wire(attachments=[{"base64": ""}] * 9),
            "application/json",
            422,
            "attachments: List should have at most 8 items",
        ),
        (wire(message="x" * 5000), "application/json", 413, "larger than the inbox takes (4096"),
    ],
    ids=[
        "form",
        "broken-json",
        "not-utf8",
        "array",
        "deep-nesting",
        "no-message",
        "message-not-text",
        "unknown-type",
        "long-title",
        "attachments-not-list",
        "attachment-no-data",
        "bad-base64",
        "too-many-attachments",
        "too-large",
    ],
)
async def test_a_bad_post_is_refused_with_its_reason_and_nothing_is_kept(
    tmp_path: Path, body: bytes, content_type: str, status: int, reason: str
) -> None:
    async with running_hub(tmp_path / "var", {"enabled": True, "max_post_bytes": 4096}) as running:
        answer = await post(f"{running.base}/messages", body, content_type)
        assert answer[0] == status, answer
        assert reason in answer[1]["error"], answer
        assert await messages(running) == []
        assert await post(f"{running.base}/messages", wire()) == (200, {"id": 1})


async def test_a_post_streamed_without_a_length_is_cut_at_the_limit(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"message": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    async with running_hub(tmp_path / "var", {"enabled": True, "max_post_bytes": 4096}) as running:
        headers = {"Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{running.base}/messages", data=chunks(), headers=headers) as answer,
        ):
            assert answer.status == 413
        assert await messages(running) == []


async def test_apprise_reports_a_refused_alert_as_failed(tmp_path: Path, snapshot: bytes) -> None:
    picture = tmp_path / "big.jpg"
    picture.write_bytes(snapshot * 4)
    async with running_hub(tmp_path / "var", {"enabled": True, "max_post_bytes": 4096}) as running:
        assert not await send(running.channel, "terlalu besar", "x", [picture])
        assert await send(running.channel, "cukup", "x")
        assert [m["title"] for m in await messages(running)] == ["cukup"]


# -- off unless asked for -------------------------------------------------------------------------


async def test_the_inbox_is_off_unless_the_config_turns_it_on(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "var", None) as running:
        assert running.hub.plugins.records["inbox"].state is PluginState.RUNNING
        for url in (f"{running.base}/", f"{running.base}/messages", f"{running.base}/files/x"):
            status, _, raw = await get(url)
            assert status == 404 and b"enabled: true" in raw
        assert not await send(running.channel, "x", "y")
    assert not (tmp_path / "var" / "plugins" / "inbox").exists()


async def test_bad_options_fail_the_plugin_with_the_reason(tmp_path: Path) -> None:
    options = {"enabled": True, "max_mesages": 10, "max_post_bytes": 10}
    async with running_hub(tmp_path / "var", options) as running:
        record = running.hub.plugins.records["inbox"]
        assert record.state is PluginState.FAILED
        assert record.reason is not None
        assert "max_mesages: is not an option of the inbox" in record.reason
        assert "max_post_bytes: Input should be greater than or equal to 1024" in record.reason
        status, _, _ = await get(f"{running.base}/")
        assert status == 404


# -- the page's text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "see https://a.example/x.",
            'see <a href="https://a.example/x" {r}>https://a.example/x</a>.',
        ),
        (
            "(http://b.example/?q=1&r=2)",
            '(<a href="http://b.example/?q=1&amp;r=2" {r}>http://b.example/?q=1&amp;r=2</a>)',
        ),
        ('https://c.example/"onmouseover="x', '<a href="https://c.example/" {r}>'),
        ("javascript:alert(1) ftp://d.example", "javascript:alert(1) ftp://d.example"),
        ("<https://e.example>", '&lt;<a href="https://e.example" {r}>https://e.example</a>&gt;'),
    ],
)
def test_links_become_clickable_and_nothing_else_does(text: str, html: str) -> None:
    assert html.format(r='rel="noopener noreferrer nofollow"') in linkify(text)


def outward_address() -> str | None:
    """This machine's address on its way out (no packet is sent), or None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("fd00::2", False),
        ("::ffff:192.0.2.2", False),
        (None, False),
        ("", False),
    ],
)
def test_only_loopback_peers_count_as_this_machine(address: str | None, local: bool) -> None:
    assert is_loopback(address) is local


async def test_the_network_is_refused_and_the_machine_itself_served(
    tmp_path: Path, snapshot: bytes
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to come from")
    picture = tmp_path / "snapshot.jpg"
    picture.write_bytes(snapshot)
    async with running_hub(tmp_path / "var", {"enabled": True}, listen="0.0.0.0") as running:
        assert await send(running.channel, "Kebakaran", "Di pasar", [picture])  # from loopback
        outside = f"http://{address}:{running.port}/plugins/inbox"
        for url in (f"{outside}/", f"{outside}/messages"):
            status, _, body = await get(url)
            assert status == 403 and b"only the hub's own machine" in body
        status, _ = await post(f"{outside}/messages", wire())
        assert status == 403
        [kept] = await messages(running)
        file_url = kept["attachments"][0]["url"]
        status, _, body = await get(f"http://{address}:{running.port}{file_url}")
        assert status == 403 and snapshot not in body
        assert [m["title"] for m in await messages(running)] == ["Kebakaran"]
