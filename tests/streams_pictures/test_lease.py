"""T3 decode leases: held while renewed, lapsed by ttl, on a clock the test turns by hand."""

from __future__ import annotations

import time

import pytest

from hub.streams.lease import DecodeLeases, LeaseReason


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leases(clock: Clock) -> DecodeLeases:
    return DecodeLeases(clock)


def test_a_lease_holds_until_its_ttl_then_lapses(clock: Clock, leases: DecodeLeases) -> None:
    lease = leases.acquire("cam-1", "activity", ttl=30.0)
    assert lease.expires == 1030.0
    assert leases.active("cam-1", 1029.9)
    assert not leases.active("cam-1", 1030.0)
    assert not leases.active("cam-2", 1000.0)
    clock.now = 1010.0
    assert leases.active("cam-1")
    clock.now = 1030.0
    assert not leases.active("cam-1")


def test_renewal_extends_from_now_and_a_lapsed_lease_cannot_be_renewed(
    clock: Clock, leases: DecodeLeases
) -> None:
    lease = leases.acquire("cam-1", "viewer", ttl=10.0)
    clock.now = 1008.0
    assert leases.renew(lease)
    assert lease.expires == 1018.0
    assert leases.renew(lease, ttl=60.0) and lease.expires == 1068.0 and lease.ttl == 60.0
    clock.now = 1068.0
    assert not leases.renew(lease)
    assert not leases.active("cam-1")
    assert leases.cameras() == set()


def test_the_camera_decodes_while_any_lease_holds(clock: Clock, leases: DecodeLeases) -> None:
    viewer = leases.acquire("cam-1", "viewer", ttl=60.0)
    rule = leases.acquire("cam-1", "zone_rule", ttl=20.0)
    leases.acquire("cam-2", "activity", ttl=5.0)
    assert leases.reasons("cam-1") == {"viewer", "zone_rule"}
    assert leases.cameras() == {"cam-1", "cam-2"}
    leases.release(viewer)
    assert leases.reasons("cam-1") == {"zone_rule"}
    clock.now = 1006.0
    assert leases.cameras() == {"cam-1"}
    leases.release(rule)
    leases.release(rule)  # twice is harmless
    assert not leases.active("cam-1")
    assert leases.cameras() == set()


def test_queries_change_nothing_and_expire_drops_the_lapsed(
    clock: Clock, leases: DecodeLeases
) -> None:
    short = leases.acquire("cam-1", "activity", ttl=5.0)
    long = leases.acquire("cam-2", "viewer", ttl=50.0)
    assert not leases.active("cam-1", now=2000.0)  # a look into the future...
    assert leases.active("cam-1")  # ...did not drop anything
    assert leases.expire() == []
    clock.now = 1010.0
    assert leases.expire() == [short]
    assert leases.cameras() == {"cam-2"}
    assert not leases.renew(short)
    assert leases.renew(long)


def test_acquiring_again_sweeps_a_cameras_lapsed_leases(clock: Clock, leases: DecodeLeases) -> None:
    for _ in range(100):
        leases.acquire("cam-1", "activity", ttl=1.0)
        clock.now += 2.0
    leases.acquire("cam-1", "activity", ttl=1.0)
    assert len(leases.expire(now=clock.now + 5.0)) == 1  # only the live one was left to lapse


def test_lease_ids_are_unique_and_release_of_an_old_lease_keeps_the_new(
    leases: DecodeLeases,
) -> None:
    first = leases.acquire("cam-1", "viewer", ttl=10.0)
    second = leases.acquire("cam-1", "viewer", ttl=10.0)
    assert first.id != second.id
    leases.release(first)
    assert leases.active("cam-1")
    assert "cam-1" in repr(second) and "viewer" in repr(second)


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan")])
def test_a_lease_needs_a_positive_ttl(leases: DecodeLeases, ttl: float) -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        leases.acquire("cam-1", "viewer", ttl=ttl)
    lease = leases.acquire("cam-1", "viewer", ttl=1.0)
    with pytest.raises(ValueError, match="positive ttl"):
        leases.renew(lease, ttl=ttl)


def test_an_unknown_reason_is_refused(leases: DecodeLeases) -> None:
    with pytest.raises(ValueError, match="unknown lease reason 'curiosity'"):
        leases.acquire("cam-1", "curiosity", ttl=1.0)
    reason: LeaseReason = leases.acquire("cam-1", "zone_rule", ttl=1.0).reason
    assert reason == "zone_rule"


def test_the_default_clock_is_monotonic() -> None:
    leases = DecodeLeases()
    before = time.monotonic()
    lease = leases.acquire("cam-1", "activity", ttl=60.0)
    assert before + 60.0 <= lease.expires <= time.monotonic() + 60.0
    assert leases.active("cam-1")
