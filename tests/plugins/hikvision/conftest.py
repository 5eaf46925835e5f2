"""Fixtures: local ISAPI devices, and sessions to them that are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hub.streams.reconnect import ReconnectPolicy
from hub.vendors import CameraAccess
from plugins.hikvision.camera import HikvisionVendor
from plugins.hikvision.session import HikvisionSession
from tests.plugins.hikvision.device import (
    PASSWORD,
    USERNAME,
    FakeDevice,
    camera_answers,
    nvr_answers,
    serve,
)

FAST = ReconnectPolicy(ladder=(0.05, 0.1), short_cap=0.1, jitter=0.0)
"""Reconnect within a tenth of a second, so tests of reconnection stay quick."""

Connect = Callable[..., HikvisionSession]


@pytest.fixture
async def camera() -> AsyncIterator[FakeDevice]:
    async with serve(camera_answers(FakeDevice())) as device:
        yield device


@pytest.fixture
async def nvr() -> AsyncIterator[FakeDevice]:
    async with serve(nvr_answers(FakeDevice())) as device:
        yield device


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open sessions to a test device: connect(device, password=..., **options)."""
    sessions: list[HikvisionSession] = []

    def open_session(
        device: FakeDevice,
        password: str | None = PASSWORD,
        username: str | None = USERNAME,
        name: str = "Gerbang Timur",
        **options: Any,
    ) -> HikvisionSession:
        access = CameraAccess(
            name=name,
            host="127.0.0.1",
            username=username,
            password=password,
            options={"http_port": device.port, **options},
            timeout=5.0,
        )
        session = HikvisionVendor(FAST).connect(access)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        await session.close()
