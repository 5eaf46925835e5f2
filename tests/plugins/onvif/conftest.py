"""Fixtures for the ONVIF plugin: recorded cameras on local servers, and sessions to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hub.vendors import CameraAccess
from plugins.onvif.events import EventTiming
from plugins.onvif.session import OnvifSession
from plugins.onvif.vendor import OnvifVendor
from tests.plugins.onvif.fakecam import PASSWORD, USER, FakeCamera

CAMERA = "Simpang Lima Timur"
FAST = EventTiming(termination=3.0, pull_wait=0.3, resubscribe_every=0.5)
"""Event timing for tests: 3 s subscriptions, short pulls, a 0.5 s resubscription limit."""

CameraMaker = Callable[..., Awaitable[FakeCamera]]


def access(camera: FakeCamera, password: str = PASSWORD, **options: Any) -> CameraAccess:
    """How a session reaches the fake camera."""
    return CameraAccess(
        name=CAMERA,
        host="127.0.0.1",
        port=camera.port,
        username=USER,
        password=password,
        options=options,
        timeout=5.0,
    )


@pytest.fixture
async def make_camera() -> AsyncIterator[CameraMaker]:
    """Start fake cameras (recorded folders, options); all are stopped after the test."""
    cameras: list[FakeCamera] = []

    async def make(*folders: str, **settings: Any) -> FakeCamera:
        camera = FakeCamera(*folders, **settings)
        cameras.append(camera)
        return await camera.start()

    yield make
    for camera in cameras:
        await camera.close()


SessionMaker = Callable[..., OnvifSession]


@pytest.fixture
async def open_session() -> AsyncIterator[SessionMaker]:
    """Open sessions to fake cameras; all are closed after the test."""
    sessions: list[OnvifSession] = []

    def make(
        camera: FakeCamera,
        password: str = PASSWORD,
        timing: EventTiming = FAST,
        **options: Any,
    ) -> OnvifSession:
        session = OnvifVendor(timing=timing).connect(access(camera, password, **options))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()
