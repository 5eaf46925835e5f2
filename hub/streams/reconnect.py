"""When to try a dead camera again: fast at first, slower later, and a breaker for hopeless ones."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """A jittered, capped ladder of delays; short outages are retried every few seconds."""

    ladder: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)
    """First delays; then `short_cap` until `short_outage` has passed."""
    short_cap: float = 3.0
    short_outage: float = 120.0
    """For this long after a camera goes away, retry every `short_cap` s so it is back in 5 s."""
    long_cap: float = 60.0
    """After that, delays double up to this."""
    jitter: float = 0.2
    """Each delay is spread by this share, so a city's cameras do not retry in step."""
    breaker_after: float = 900.0
    """A camera failing this long trips the breaker: only a probe every `breaker_probe` s."""
    breaker_probe: float = 300.0


class Backoff:
    """The retry schedule of one camera; `failed` gives the next delay, `succeeded` resets it."""

    __slots__ = ("_rng", "attempts", "first_failure", "policy")

    def __init__(
        self, policy: ReconnectPolicy | None = None, rng: random.Random | None = None
    ) -> None:
        self.policy = policy or ReconnectPolicy()
        self._rng = rng or random.Random()
        self.attempts = 0
        self.first_failure: float | None = None

    def failed(self, now: float) -> float:
        """Record a failed attempt at `now` and return how long to wait before the next."""
        p = self.policy
        if self.first_failure is None:
            self.first_failure = now
        self.attempts += 1
        down_for = now - self.first_failure
        if down_for >= p.breaker_after:
            base = p.breaker_probe
        elif self.attempts <= len(p.ladder):
            base = p.ladder[self.attempts - 1]
        elif down_for < p.short_outage:
            base = p.short_cap
        else:
            steps = self.attempts - len(p.ladder)
            base = min(p.long_cap, p.short_cap * 2 ** min(steps, 16))
        spread = base * p.jitter
        return max(0.05, base + self._rng.uniform(-spread, spread))

    def breaker_open(self, now: float) -> bool:
        """Whether this camera has failed so long that only an occasional probe is made."""
        first = self.first_failure
        return first is not None and now - first >= self.policy.breaker_after

    def succeeded(self) -> None:
        """The camera is back: start the ladder from the bottom next time."""
        self.attempts = 0
        self.first_failure = None
