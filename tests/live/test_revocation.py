"""An open live view ends when the agreement that allowed it is revoked: all through the real
API and the hub's own agreement policy, no stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from hub.access import Role
from hub.sharing.policy import AgreementPolicy
from tests.live.conftest import next_picture
from tests.web.conftest import Site

LIVE = "/api/cameras/mall-lobi/live"
WHY = {"purpose": "laporan kehilangan di lobi"}
LOBBY = {
    "owner": "sunrise",
    "camera": "mall-lobi",
    "level": "live",
    "purpose": "security",
    "signed_by": "Ibu Ratna, Building Manager",
    "ends_at": None,
}


async def test_revoking_the_agreement_cuts_the_open_view_and_refuses_the_next(
    live_site: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.web.live")
    site: Site = await live_site(Role.OPERATOR, Role.ADMIN)
    assert isinstance(site.hub.sharing, AgreementPolicy)  # the real policy, not a stand-in
    sari = await site.signed_in(Role.OPERATOR)
    ana = await site.signed_in(Role.ADMIN)
    async with sari.get(site.url(LIVE), params=WHY) as answer:
        assert answer.status == 403  # a private owner's camera: registry only by default
    async with ana.post(site.url("/api/sharing"), json=LOBBY) as answer:
        assert answer.status == 201, await answer.text()
        agreement_id = (await answer.json())["agreement"]["id"]

    async with sari.get(site.url(LIVE), params=WHY) as view:
        assert view.status == 200, await view.text()
        for _ in range(3):
            assert await next_picture(view) is not None
        revoke = {"reason": "the mall withdrew consent"}
        path = site.url(f"/api/sharing/{agreement_id}/revoke")
        async with ana.post(path, json=revoke) as answer:
            assert answer.status == 200, await answer.text()
        revoked = time.monotonic()
        async with asyncio.timeout(5):
            while await next_picture(view) is not None:
                pass
        assert time.monotonic() - revoked < 3.0
    assert "live view of camera mall-lobi cut: a live view of camera" in caplog.text

    async with sari.get(site.url(LIVE), params=WHY) as answer:
        assert answer.status == 403
        body = await answer.json()
        assert body["sharing"] == "registry" and "a live view of camera" in body["error"]
    streams = site.hub.streams
    assert streams is not None
    assert streams.live.viewers("mall-lobi") == 0
