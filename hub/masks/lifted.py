"""Which cameras are shown without their privacy masks right now, as the stream engine asks it.

The engine burns a camera's masks into every picture unless an approved lift is in force. A
lift ends at its time even if nobody has told the engine yet: `privacy` compares with the
clock. Each lift and restore bumps the camera's generation, so that a picture made under the
old state (a keyframe in a decode thread at that moment) is dropped rather than served: the
cache only takes a picture whose generation still holds (`put`, under the same lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.streams.pictures import KeyframeCache
    from hub.streams.privacy import PrivacyMask


class LiftedMasks:
    """The cameras whose privacy masks are lifted, until when (epoch seconds); thread-safe."""

    __slots__ = ("_clock", "_generation", "_lock", "_until")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._generation: dict[str, int] = {}

    def lift(self, camera_id: str, until: float, cache: KeyframeCache | None = None) -> None:
        """Show the camera unmasked until `until`; its cached (masked) picture is dropped."""
        with self._lock:
            self._until[camera_id] = until
            self._bump(camera_id, cache)

    def restore(self, camera_id: str, cache: KeyframeCache | None = None) -> bool:
        """Mask the camera again at once; its cached picture is dropped. False if not lifted."""
        with self._lock:
            was = self._until.pop(camera_id, None) is not None
            if was:
                self._bump(camera_id, cache)
            return was

    def _bump(self, camera_id: str, cache: KeyframeCache | None) -> None:
        self._generation[camera_id] = self._generation.get(camera_id, 0) + 1
        if cache is not None:
            cache.discard(camera_id)

    def lifted(self, camera_id: str) -> bool:
        """Whether the camera's masks are lifted now (a lift whose time is up is not)."""
        until = self._until.get(camera_id)
        return until is not None and self._clock() < until

    def ended(self, camera_id: str) -> bool:
        """Whether a lift of the camera ran out and was not restored yet."""
        until = self._until.get(camera_id)
        return until is not None and self._clock() >= until

    def privacy(self, camera_id: str, mask: PrivacyMask | None) -> tuple[PrivacyMask | None, int]:
        """What to burn into a picture of the camera now, and the generation it was decided in."""
        with self._lock:
            generation = self._generation.get(camera_id, 0)
            return (None if self.lifted(camera_id) else mask), generation

    def current(self, camera_id: str, generation: int) -> bool:
        """Whether a picture made in `generation` may still go out (nothing lifted or restored)."""
        return self._generation.get(camera_id, 0) == generation

    def keep(self, camera_id: str, generation: int, store: Callable[[], object]) -> bool:
        """Call `store` (a cache's put) only if `generation` still holds; False if dropped."""
        with self._lock:
            if not self.current(camera_id, generation):
                return False
            store()
            return True
