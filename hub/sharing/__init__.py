"""Sharing agreements: what the command center may do with an owner's pictures, and until when.

Every part of the hub that hands out a picture (snapshots, alert pictures, clips, live views)
asks `hub.sharing.decide(camera, use)` first and hands out nothing when the answer is no.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.registry import CameraRecord


class Level(StrEnum):
    """How much of a camera an owner shares, from least to most."""

    REGISTRY = "registry"
    """Location and health only: no picture leaves the hub."""
    SNAPSHOTS = "snapshots"
    """Still pictures (snapshots, alert pictures)."""
    LIVE_INCIDENT = "live_incident"
    """Snapshots; live view and clips only while an incident at the camera's site is open."""
    LIVE = "live"
    """Snapshots, live view and clips at any time."""


class Use(StrEnum):
    """What a caller wants to hand out."""

    SNAPSHOT = "snapshot"
    ALERT_PICTURE = "alert_picture"
    CLIP = "clip"
    LIVE = "live"


class Purpose(StrEnum):
    """Why pictures are shared (UU 27/2022 asks for a stated purpose)."""

    SECURITY = "security"
    """Public order and safety (keamanan dan ketertiban)."""
    DISASTER = "disaster"
    """Disaster and emergency response (kebencanaan)."""
    TRAFFIC = "traffic"
    """Traffic management (lalu lintas)."""
    PUBLIC_SERVICE = "public_service"
    """Public service delivery, such as queues at an agency office (pelayanan publik)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this picture go out?"."""

    allowed: bool
    reason: str
    """Why, in a sentence an operator can read; never a secret."""
    level: Level
    agreement_id: str | None = None
    """The agreement that decided, or None when a default did."""
    until: datetime | None = None
    """When the permission lapses, if it does (an agreement's end, an incident's time limit)."""


class SharingPolicy(Protocol):
    """Decides, per camera and use, whether a picture may leave the hub."""

    async def decide(
        self,
        camera: CameraRecord,
        use: Use,
        *,
        owner: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Whether `use` of `camera` is allowed at `at` (now when None).

        `owner` is the owner the asker acts for (an owner's user): an owner's own cameras are
        always its own to see, whatever it shares with the command center.
        """
        ...

    async def levels(self, cameras: Sequence[CameraRecord]) -> dict[str, Level]:
        """Each camera's sharing level now, by camera id (for the camera list and the map)."""
        ...


class ShareEverything:
    """A policy that allows every use: for a hub started without a store (tests, tools)."""

    async def decide(
        self,
        camera: CameraRecord,
        use: Use,
        *,
        owner: str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Always allowed."""
        return Decision(True, "no sharing policy in force", Level.LIVE)

    async def levels(self, cameras: Sequence[CameraRecord]) -> dict[str, Level]:
        """Everything is shared live."""
        return {camera.id: Level.LIVE for camera in cameras}
