"""Live view: masked MJPEG from a streaming camera, one decode for all, cut when sharing stops."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from hub.access import Role
from hub.audit import Action
from hub.events import SharingChanged
from hub.streams.privacy import FILL
from tests.live.conftest import SharingSwitch, next_picture
from tests.streams.test_privacy import WINDOW, decoded, regions
from tests.web.conftest import Site

LIVE = "/api/cameras/{}/live"


def assert_masked(jpeg: bytes) -> None:
    picture = decoded(jpeg)
    height, width = picture.shape
    inside, outside = regions([WINDOW], width, height)
    assert abs(float(picture[inside].mean()) - FILL[0]) < 2 and picture[inside].std() < 2
    assert picture[outside].std() > 5  # the rest of the park is there


def viewer_leases(site: Site, camera_id: str) -> int:
    streams = site.hub.streams
    assert streams is not None
    held = streams.leases._held.get(camera_id, {})
    return sum(1 for lease in held.values() if lease.reason == "viewer")


async def test_live_pictures_are_masked_shared_by_viewers_and_recorded_and_stop_decoding(
    live_site: Callable[..., Any],
) -> None:
    site: Site = await live_site()
    streams = site.hub.streams
    assert streams is not None
    worker = streams.workers["taman"]
    assert worker._t3 is None  # nobody watches, nothing moves: no full decode
    sari = await site.signed_in(Role.OPERATOR)
    ana = await site.signed_in(Role.ADMIN)
    async with (
        sari.get(site.url(LIVE.format("taman"))) as first,
        ana.get(site.url(LIVE.format("taman"))) as second,
    ):
        assert first.status == 200, await first.text()
        assert first.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        assert first.headers["Cache-Control"] == "no-store"
        pictures = [await next_picture(first) for _ in range(3)]
        other = await next_picture(second)
        for picture in [*pictures, other]:
            assert picture is not None
            assert_masked(picture)
        # two viewers, one lease and one decoder
        assert streams.live.viewers("taman") == 2
        assert viewer_leases(site, "taman") == 1
        assert worker._t3 is not None
    records = await site.hub.audit.records(camera="taman", action=Action.LIVE_VIEW)
    assert sorted(record.actor_name or "" for record in records) == ["ana", "sari"]
    assert all(record.details == {"masks_lifted": False} for record in records)
    # both left: the lease ends and the worker stops decoding
    deadline = time.monotonic() + 5
    while worker._t3 is not None or streams.live.viewers("taman"):
        assert time.monotonic() < deadline, "decoding went on after the last viewer left"
        await asyncio.sleep(0.05)
    assert viewer_leases(site, "taman") == 0
    assert "viewer" not in streams.leases.reasons("taman")
    made = streams.live.feed("taman")
    assert made is None
    await asyncio.sleep(1.1)  # a tick later it is still off
    assert worker._t3 is None


async def test_refusals_before_the_first_byte(live_site: Callable[..., Any]) -> None:
    site: Site = await live_site(Role.OPERATOR, Role.OWNER)
    switch = SharingSwitch()
    site.hub.sharing = switch
    owner = await site.signed_in(Role.OWNER)
    async with owner.get(site.url(LIVE.format("taman"))) as answer:
        assert answer.status == 404  # another owner's camera looks like none
        assert (await answer.json())["error"] == "sunrise has no camera 'taman'"
    sari = await site.signed_in(Role.OPERATOR)
    async with sari.get(site.url(LIVE.format("mall-lobi"))) as answer:
        assert answer.status == 400  # a private owner's camera: why?
        assert "purpose" in (await answer.json())["error"]
    async with sari.get(site.url(LIVE.format("mati"))) as answer:
        assert answer.status == 409
        assert "not being watched" in (await answer.json())["error"]
    switch.allowed = False
    async with sari.get(site.url(LIVE.format("mall-lobi")), params={"purpose": "x"}) as answer:
        assert answer.status == 403
        body = await answer.json()
        assert body == {"error": "Sunrise Mall revoked live sharing", "sharing": "snapshots"}
    assert await site.hub.audit.records(action=Action.LIVE_VIEW) == []  # nothing was shown
    switch.allowed = True
    async with owner.get(
        site.url(LIVE.format("mall-lobi")), headers={"X-Pantau-Purpose": "cek lobi"}
    ) as answer:
        assert answer.status == 200  # its own camera, with a purpose
        picture = await next_picture(answer)
        assert picture is not None
        assert_masked(picture)  # the owner's own users see the masks too
    (record,) = await site.hub.audit.records(action=Action.LIVE_VIEW)
    assert (record.actor_name, record.camera_id, record.purpose) == (
        "mall-it",
        "mall-lobi",
        "cek lobi",
    )


async def test_a_refusal_while_streaming_cuts_the_view_and_a_view_ends_at_its_limit(
    live_site: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.web.live")
    site: Site = await live_site(Role.OPERATOR, live_session=3.0)
    switch = SharingSwitch()
    site.hub.sharing = switch
    sari = await site.signed_in(Role.OPERATOR)
    url = site.url(LIVE.format("taman"))

    # the owner revokes: sharing.changed, the policy says no, the view ends at once
    async with sari.get(url) as answer:
        assert answer.status == 200
        assert await next_picture(answer) is not None
        asked = switch.asked
        switch.allowed = False
        cut = time.monotonic()
        change = {"owner_id": "dlh", "agreement_id": "x", "change": "revoked"}
        await site.hub.bus.publish(SharingChanged.create(data=change))
        async with asyncio.timeout(5):
            while await next_picture(answer) is not None:
                pass
        assert time.monotonic() - cut < 2.0
        assert switch.asked == asked + 1
    assert "live view of camera taman cut: Sunrise Mall revoked live sharing" in caplog.text

    # an agreement's permission lapses (Decision.until): the view ends then, unasked
    switch.allowed = True
    switch.until = datetime.now(UTC) + timedelta(seconds=1)
    caplog.clear()
    async with sari.get(url) as answer:
        assert answer.status == 200
        async with asyncio.timeout(10):
            while await next_picture(answer) is not None:
                pass
    assert datetime.now(UTC) >= switch.until
    assert "live view of camera taman cut" in caplog.text

    # nothing refuses: the view still ends after hub.streams.live_session
    switch.until = None
    caplog.clear()
    async with sari.get(url) as answer:
        assert answer.status == 200
        assert await next_picture(answer) is not None
        opened = time.monotonic()
        async with asyncio.timeout(20):
            while await next_picture(answer) is not None:
                pass
        assert time.monotonic() - opened >= 2.5
    assert "cut" not in caplog.text
    streams = site.hub.streams
    assert streams is not None
    assert streams.live.viewers("taman") == 0


async def test_a_slow_viewer_skips_pictures_rather_than_piling_them_up() -> None:
    from hub.streams.lease import DecodeLeases
    from hub.streams.live import LiveViews

    views = LiveViews(DecodeLeases(), fps=5.0)
    fast, slow = views.join("taman"), views.join("taman")
    feed = views.feed("taman")
    assert feed is not None
    for n in range(10):
        feed.publish(bytes([n]))
        assert await fast.next(0.1) == bytes([n])
    assert await slow.next(0.1) == bytes([9])  # only the newest waited for it
    assert await slow.next(0.05) == b""  # nothing new
    views.leave(fast)
    views.leave(slow)
    assert views.feed("taman") is None


def test_pictures_come_at_the_live_rate_whatever_the_cameras() -> None:
    from hub.streams.lease import DecodeLeases
    from hub.streams.live import LiveViews

    views = LiveViews(DecodeLeases(), fps=5.0)
    views.join("taman")
    feed = views.feed("taman")
    assert feed is not None
    arrivals = np.arange(1000.0, 1010.0, 1 / 25)  # ten seconds of a 25 fps camera
    due = [at for at in arrivals if feed.due(float(at), float(at))]
    assert len(due) == pytest.approx(50, abs=1)
    assert not feed.due(900.0, 1000.0)  # catching up on the past: decoded, not shown
