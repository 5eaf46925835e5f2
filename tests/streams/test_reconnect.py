"""The reconnect ladder: fast at first, back in 5 s after short outages, a breaker otherwise."""

from __future__ import annotations

import random

from hub.streams.reconnect import Backoff, ReconnectPolicy


def test_short_outage_retries_often_enough_to_be_back_within_5s() -> None:
    backoff = Backoff(rng=random.Random(1))
    now = 0.0
    delays = []
    while now < 120:
        delay = backoff.failed(now)
        delays.append(delay)
        now += delay + 0.2  # a refused connection costs a little
    assert delays[0] < 1.0
    assert max(delays) <= ReconnectPolicy().short_cap * 1.2
    assert not backoff.breaker_open(now)


def test_long_outage_slows_down_to_the_cap_then_breaker() -> None:
    policy = ReconnectPolicy()
    backoff = Backoff(policy, rng=random.Random(2))
    now = 0.0
    delays = []
    while now < policy.breaker_after + 1000:
        delay = backoff.failed(now)
        delays.append((now, delay))
        now += delay
    late = [d for t, d in delays if policy.short_outage + 300 < t < policy.breaker_after]
    assert late and all(policy.long_cap * 0.8 <= d <= policy.long_cap * 1.2 for d in late)
    assert backoff.breaker_open(now)
    probes = [d for t, d in delays if t >= policy.breaker_after]
    assert probes and all(d >= policy.breaker_probe * 0.8 for d in probes)
    backoff.succeeded()
    assert not backoff.breaker_open(now)
    assert backoff.failed(now) < 1.0


def test_jitter_spreads_cameras() -> None:
    firsts = {round(Backoff(rng=random.Random(seed)).failed(0.0), 3) for seed in range(20)}
    assert len(firsts) > 10
