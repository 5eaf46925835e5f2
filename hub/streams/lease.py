"""Who needs a camera's full decode (tier T3) right now, and until when.

T3 costs twenty times T2, so it runs only while someone holds a lease on the camera: T0/T1
activity to confirm, a zone rule that needs motion, an operator watching live. A lease lapses by
itself when its holder stops renewing it, so a crashed holder cannot keep a decoder running.
Time comes from an injectable clock; nothing here sleeps, schedules or does I/O.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Literal, cast, get_args

LeaseReason = Literal["activity", "motion", "zone_rule", "viewer"]
REASONS: frozenset[str] = frozenset(get_args(LeaseReason))


def _reason(value: str) -> LeaseReason:
    for reason in get_args(LeaseReason):
        if value == reason:
            return cast(LeaseReason, reason)
    raise ValueError(f"unknown lease reason {value!r}: expected one of {sorted(REASONS)}")


class Lease:
    """A claim on one camera's full decode, good until `expires` unless renewed or released."""

    __slots__ = ("camera_id", "expires", "id", "reason", "ttl")

    def __init__(
        self, id: int, camera_id: str, reason: LeaseReason, ttl: float, expires: float
    ) -> None:
        self.id = id
        self.camera_id = camera_id
        self.reason: LeaseReason = reason
        self.ttl = ttl
        self.expires = expires

    def __repr__(self) -> str:
        return f"<Lease {self.id} {self.camera_id} {self.reason} until {self.expires:.1f}>"


class DecodeLeases:
    """The leases on every camera's T3 decode; a camera decodes while any of its leases holds.

    Queries never change anything; lapsed leases are dropped by `expire` and by `acquire` on
    the same camera. Used from the event loop only, so it takes no lock.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self._held: dict[str, dict[int, Lease]] = {}

    def acquire(self, camera_id: str, reason: str, ttl: float) -> Lease:
        """A new lease on the camera for `ttl` seconds from now; `reason` is a `LeaseReason`."""
        reason = _reason(reason)
        if not ttl > 0:
            raise ValueError(f"a lease needs a positive ttl, not {ttl}")
        now = self._clock()
        leases = self._held.setdefault(camera_id, {})
        for lapsed in [held for held in leases.values() if held.expires <= now]:
            del leases[lapsed.id]  # so a camera's lapsed leases never pile up
        lease = Lease(next(self._ids), camera_id, reason, ttl, now + ttl)
        leases[lease.id] = lease
        return lease

    def renew(self, lease: Lease, ttl: float | None = None) -> bool:
        """Extend a held lease to `ttl` (its own by default) from now; False if it already lapsed.

        A lapsed lease stays lapsed: the holder acquires a new one, so that every gap in a
        camera's T3 shows as a new lease.
        """
        if ttl is not None and not ttl > 0:
            raise ValueError(f"a lease needs a positive ttl, not {ttl}")
        now = self._clock()
        if self._held.get(lease.camera_id, {}).get(lease.id) is not lease:
            return False
        if lease.expires <= now:
            self.release(lease)
            return False
        if ttl is not None:
            lease.ttl = ttl
        lease.expires = now + lease.ttl
        return True

    def now(self) -> float:
        """The time on the leases' clock."""
        return self._clock()

    def release(self, lease: Lease) -> None:
        """Give the lease up now; releasing twice, or after it lapsed, does nothing."""
        leases = self._held.get(lease.camera_id)
        if leases is not None and leases.get(lease.id) is lease:
            del leases[lease.id]
            if not leases:
                del self._held[lease.camera_id]

    def active(self, camera_id: str, now: float | None = None) -> bool:
        """Whether any lease on the camera holds at `now` (the clock's time by default)."""
        return bool(self.reasons(camera_id, now))

    def reasons(self, camera_id: str, now: float | None = None) -> set[LeaseReason]:
        """Why the camera is decoded at `now`: the reasons of the leases that hold."""
        now = self._clock() if now is None else now
        leases = self._held.get(camera_id, {})
        return {lease.reason for lease in leases.values() if lease.expires > now}

    def cameras(self, now: float | None = None) -> set[str]:
        """Every camera with a lease that holds at `now`."""
        now = self._clock() if now is None else now
        return {
            camera_id
            for camera_id, leases in self._held.items()
            if any(lease.expires > now for lease in leases.values())
        }

    def expire(self, now: float | None = None) -> list[Lease]:
        """Drop the leases lapsed at `now` (the clock's time by default) and return them."""
        now = self._clock() if now is None else now
        lapsed = [
            lease
            for leases in self._held.values()
            for lease in leases.values()
            if lease.expires <= now
        ]
        for lease in lapsed:
            self.release(lease)
        return lapsed
