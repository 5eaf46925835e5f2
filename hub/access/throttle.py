"""Failed sign-ins slow down guessing: per name and per client address, a growing wait.

A name is counted whether a user has it or not, so the waits tell nothing about who exists.
The counts live in the hub's memory: a restart forgets them, which costs an attacker a restart
they cannot cause. (Several nodes count apart; the store would be the place to share them.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    blocked_until: float


@dataclass(frozen=True, slots=True)
class Limit:
    """Failures allowed before waits begin, and how they grow."""

    free: int
    """Failures in a row that cost nothing; after that many, the next attempt waits."""
    first_wait: float = 1.0
    """Seconds of the first wait; each further failure doubles it."""
    longest_wait: float = 900.0
    window: float = 3600.0
    """A key's failures are forgotten after this long without one."""

    def wait_after(self, count: int) -> float:
        """Seconds to wait after the `count`-th failure in a row."""
        over = count - self.free
        if over < 0:
            return 0.0
        return float(min(self.longest_wait, self.first_wait * 2 ** min(over, 30)))


class LoginThrottle:
    """Counts failed sign-ins by name and by address; says how long the next one must wait."""

    def __init__(
        self,
        per_name: Limit = Limit(free=5),
        per_address: Limit = Limit(free=20),
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._limits = {"name": per_name, "address": per_address}
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], _Failures] = {}

    def wait(self, name: str, address: str) -> float:
        """Seconds before a sign-in as `name` from `address` is tried at all; 0 for now."""
        now = self._clock()
        waits = [0.0]
        for key in (("name", name), ("address", address)):
            found = self._failures.get(key)
            if found is not None:
                waits.append(found.blocked_until - now)
        return max(waits)

    def failed(self, name: str, address: str) -> None:
        """Count a failed sign-in."""
        now = self._clock()
        for key in (("name", name), ("address", address)):
            limit = self._limits[key[0]]
            found = self._failures.pop(key, None)
            if found is None or now - found.last > limit.window:
                found = _Failures(0, now, now)
            found.count += 1
            found.last = now
            found.blocked_until = now + limit.wait_after(found.count)
            self._failures[key] = found  # newest last: the oldest go first when full
        while len(self._failures) > self._max_keys:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, name: str) -> None:
        """The name's owner signed in: its count starts again (the address's does not)."""
        self._failures.pop(("name", name), None)
