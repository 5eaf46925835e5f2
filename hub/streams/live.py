"""Live view: a camera's pictures, decoded while someone watches, masked, handed out as JPEGs.

A viewer holds a decode lease (reason `viewer`) on the camera, so its worker runs T3, the full
decode. Out of those frames the decode thread makes a JPEG at most `fps` times a second,
scaled to `width`, with the camera's privacy masks burned in as a snapshot's are (unless a
lift is in force), and hands it to the camera's feed on the event loop. One decode serves
every viewer of the camera; each viewer holds only the newest picture it has not taken yet,
so a slow viewer skips pictures rather than piling them up. The camera's own stream is never
relayed. When the last viewer leaves, the lease goes and the worker stops decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.streams.lease import DecodeLeases, Lease

LEASE_TTL = 5.0
"""Seconds a viewer's lease holds unrenewed; the engine renews it every second."""
CATCH_UP = 0.5
"""Frames older than this (T3 catching up from the ring) are decoded but not shown."""
QUALITY = 70
"""JPEG quality of live pictures: 12-20 KB at 960 wide on the test footage, 5 ms to make."""


class LiveViewer:
    """One open live view: the newest picture it has not taken yet, and whether it was ended."""

    __slots__ = ("_picture", "_ready", "camera_id", "closed", "reason")

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.closed = False
        self.reason: str | None = None
        """Why the view was ended (by the hub, not by the viewer)."""
        self._picture: bytes | None = None
        self._ready = asyncio.Event()

    def offer(self, jpeg: bytes) -> None:
        """A new picture, replacing one the viewer has not taken yet."""
        if not self.closed:
            self._picture = jpeg
            self._ready.set()

    async def next(self, wait: float) -> bytes | None:
        """The newest picture; None once the view is ended; b"" if none came within `wait` s."""
        if not self.closed and self._picture is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        if self.closed:
            return None
        picture, self._picture = self._picture, None
        self._ready.clear()
        return picture or b""

    def close(self, reason: str) -> None:
        """End the view: `next` answers None from now on."""
        if not self.closed:
            self.closed = True
            self.reason = reason
            self._picture = None
            self._ready.set()


class LiveFeed:
    """One camera's live pictures and the viewers they go to; `due` is asked from decode threads."""

    __slots__ = ("_slot", "camera_id", "fps", "lease", "pictures", "viewers", "width")

    def __init__(self, camera_id: str, lease: Lease, *, fps: float, width: int) -> None:
        self.camera_id = camera_id
        self.lease = lease
        self.fps = fps
        self.width = width
        self.viewers: set[LiveViewer] = set()
        self.pictures = 0
        """Pictures handed out so far (to however many viewers)."""
        self._slot = -1

    def due(self, arrival: float, now: float) -> bool:
        """Whether the frame that arrived at `arrival` (monotonic) should become a picture.

        One picture per 1/fps slot of arrival time: an even rate whatever the camera's own.
        """
        if not self.viewers or now - arrival > CATCH_UP:
            return False
        slot = math.floor(arrival * self.fps)
        if slot == self._slot:
            return False
        self._slot = slot
        return True

    def publish(self, jpeg: bytes) -> None:
        """Give a picture to every viewer (on the event loop)."""
        self.pictures += 1
        for viewer in self.viewers:
            viewer.offer(jpeg)


class LiveViews:
    """Every camera's live feed: who watches, and the decode lease each watched camera holds."""

    def __init__(self, leases: DecodeLeases, *, fps: float = 5.0, width: int = 960) -> None:
        if not fps > 0:
            raise ValueError(f"live pictures need a positive rate, not {fps}")
        self.leases = leases
        self.fps = fps
        self.width = width
        self._feeds: dict[str, LiveFeed] = {}

    def feed(self, camera_id: str) -> LiveFeed | None:
        """The camera's feed while someone watches it, else None."""
        return self._feeds.get(camera_id)

    def viewers(self, camera_id: str) -> int:
        """How many watch the camera now."""
        feed = self._feeds.get(camera_id)
        return len(feed.viewers) if feed is not None else 0

    def join(self, camera_id: str) -> LiveViewer:
        """A new viewer of the camera; the first one takes the camera's decode lease."""
        feed = self._feeds.get(camera_id)
        if feed is None:
            lease = self.leases.acquire(camera_id, "viewer", ttl=LEASE_TTL)
            feed = self._feeds[camera_id] = LiveFeed(
                camera_id, lease, fps=self.fps, width=self.width
            )
        viewer = LiveViewer(camera_id)
        feed.viewers.add(viewer)
        return viewer

    def leave(self, viewer: LiveViewer) -> None:
        """The viewer is gone; the last one gives the lease back at once."""
        feed = self._feeds.get(viewer.camera_id)
        if feed is None:
            return
        feed.viewers.discard(viewer)
        if not feed.viewers:
            del self._feeds[viewer.camera_id]
            self.leases.release(feed.lease)

    def renew(self) -> None:
        """Keep the leases of watched cameras (the engine's ticker calls it every second)."""
        for camera_id, feed in self._feeds.items():
            if not self.leases.renew(feed.lease):  # lapsed (a stalled loop): take a new one
                feed.lease = self.leases.acquire(camera_id, "viewer", ttl=LEASE_TTL)

    def close(self, camera_id: str, reason: str) -> None:
        """End every view of the camera (it was removed, or the hub stops)."""
        feed = self._feeds.get(camera_id)
        if feed is not None:
            for viewer in list(feed.viewers):
                viewer.close(reason)

    def close_all(self, reason: str) -> None:
        """End every view of every camera."""
        for camera_id in list(self._feeds):
            self.close(camera_id, reason)
