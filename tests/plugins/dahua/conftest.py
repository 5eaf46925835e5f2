"""A fake Dahua device per test, and sessions to it that are closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from hub.streams.reconnect import ReconnectPolicy
from hub.vendors import CameraAccess
from plugins.dahua.session import DahuaSession
from tests.plugins.dahua.fakecam import PASSWORD, USERNAME, FakeDahua, ipc_answers, make_jpeg, serve

FAST = ReconnectPolicy(ladder=(0.05, 0.1), short_cap=0.1, jitter=0.0)
"""Reconnect within a tenth of a second, so reconnection tests stay fast."""

Connect = Callable[..., DahuaSession]


@pytest.fixture
async def camera() -> AsyncIterator[FakeDahua]:
    async for served in serve(FakeDahua(answers=ipc_answers(), snapshot=make_jpeg())):
        yield served


@pytest.fixture
async def connect(camera: FakeDahua) -> AsyncIterator[Connect]:
    sessions: list[DahuaSession] = []

    def make(
        password: str | None = PASSWORD,
        options: Mapping[str, Any] | None = None,
        read_timeout: float | None = None,
        port: int | None = None,
    ) -> DahuaSession:
        access = CameraAccess(
            name="Gerbang Utara",
            host="127.0.0.1",
            port=port or camera.port,
            username=USERNAME,
            password=password,
            options=dict(options or {}),
            timeout=2.0,
        )
        session = DahuaSession(access, policy=FAST, read_timeout=read_timeout)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()
