"""A fake Sunrise NVR per test, and sessions to it that are closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pantau_sunrise_mall.camera import SunriseMallNvr
from pantau_sunrise_mall.session import SunriseSession
from sunrise_nvr import PASSWORD, USERNAME, FakeNvr, serve

from hub.streams.reconnect import ReconnectPolicy
from hub.vendors import CameraAccess

FAST = ReconnectPolicy(ladder=(0.05, 0.1), short_cap=0.1, jitter=0.0)
"""Reopen the event feed within a tenth of a second, so reconnection tests stay fast."""


@pytest.fixture
async def nvr() -> AsyncIterator[FakeNvr]:
    async with serve(FakeNvr()) as served:
        yield served


@pytest.fixture
async def connect(nvr: FakeNvr) -> AsyncIterator[Callable[..., SunriseSession]]:
    """Open sessions to the fake NVR as the hub would, through the vendor's `connect`."""
    sessions: list[SunriseSession] = []

    def make(
        password: str | None = PASSWORD, port: int | None = None, **options: Any
    ) -> SunriseSession:
        access = CameraAccess(
            name="Lobby Utara",
            host="127.0.0.1",
            port=port or nvr.port,
            username=USERNAME,
            password=password,
            options=options,
            timeout=2.0,
        )
        session = SunriseMallNvr(policy=FAST).connect(access)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()
