"""Data packages: a flush that makes a camera's usage reach an allowance raises usage.exceeded."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sql_event

from hub.config import Config, ConfigError, load_config
from hub.config.models import DataPackage
from hub.events import Event
from hub.registry import Registry
from hub.store import Database
from hub.streams.packages import AllowanceWatch, month_start
from hub.streams.usage import UsageLedger

GB = 10**9

OWNERS = [
    {"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"},
    {"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"},
]
CAMERAS: list[dict[str, Any]] = [
    {"id": "tpa-zona", "name": "Zona aktif TPA", "owner": "dlh", "tags": ["4g"]},
    {"id": "tpa-gerbang", "name": "Gerbang TPA", "owner": "dlh", "tags": ["4g"]},
    {"id": "simpang-lima", "name": "Simpang Lima", "owner": "dishub", "tags": ["4g"]},
    {"id": "alun-alun", "name": "Alun-alun", "owner": "dishub", "tags": ["fiber"]},
]


def city(*packages: dict[str, Any]) -> Config:
    return Config.model_validate(
        {
            "owners": OWNERS,
            "cameras": [{**camera, "url": "rtsp://10.0.0.1/live"} for camera in CAMERAS],
            "data_packages": list(packages),
        }
    )


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November 2026 in UTC; Jakarta (WIB) is 7 hours ahead."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class Metering:
    """The usage ledger and the allowance watch over the real store, flushed as the engine does."""

    def __init__(self, db: Database, config: Config) -> None:
        self.ledger = UsageLedger(db, config.hub.timezone)
        self.registry = Registry(db, None)
        self.watch = AllowanceWatch(
            db, config.data_packages, config.hub.timezone, self.registry.list_cameras
        )
        self.config = config

    async def start(self) -> Metering:
        await self.registry.sync_from_config(self.config)
        return self

    async def flush(self, counts: dict[str, int], at: datetime) -> list[Event]:
        await self.ledger.add(counts, at)
        return await self.watch.check(counts, at)


def summary(events: list[Event]) -> list[tuple[str, str | None, str, str, int, int]]:
    return [
        (
            e.type,
            e.camera_id,
            e.data["package"],
            e.data["period"],
            e.data["used_bytes"],
            e.data["allowed_bytes"],
        )
        for e in events
    ]


TELKOMSEL = {"id": "telkomsel-50gb", "cameras": ["tpa-zona"], "monthly": "50 GB"}


async def test_crossing_the_monthly_allowance_raises_one_event(db: Database) -> None:
    hub = await Metering(db, city(TELKOMSEL)).start()
    assert await hub.flush({"tpa-zona": 30 * GB, "alun-alun": 90 * GB}, utc(23, 3)) == []
    assert await hub.flush({"tpa-zona": 19 * GB}, utc(23, 4)) == []  # 49 GB: still below
    [exceeded] = await hub.flush({"tpa-zona": 6 * GB}, utc(23, 5))
    assert exceeded.type == "usage.exceeded" and exceeded.camera_id == "tpa-zona"
    assert exceeded.time == utc(23, 5)
    assert dict(exceeded.data) == {
        "package": "telkomsel-50gb",
        "period": "month",
        "since": "2026-11-01",
        "used_bytes": 55 * GB,
        "allowed_bytes": 50 * GB,
        "used": "55.0 GB",
        "allowed": "50.0 GB",
    }
    # over the allowance already: more bytes raise nothing more this month
    assert await hub.flush({"tpa-zona": GB}, utc(23, 6)) == []
    assert await hub.flush({"tpa-zona": GB}, utc(28, 6)) == []


async def test_reaching_the_allowance_exactly_is_crossing_it(db: Database) -> None:
    hub = await Metering(db, city(TELKOMSEL)).start()
    assert await hub.flush({"tpa-zona": 50 * GB - 1}, utc(2, 3)) == []
    assert summary(await hub.flush({"tpa-zona": 1}, utc(2, 4))) == [
        ("usage.exceeded", "tpa-zona", "telkomsel-50gb", "month", 50 * GB, 50 * GB)
    ]


async def test_a_restart_after_crossing_raises_nothing_again(db: Database, store_url: str) -> None:
    config = city(TELKOMSEL)
    hub = await Metering(db, config).start()
    assert len(await hub.flush({"tpa-zona": 51 * GB}, utc(23, 3))) == 1
    # a new process: its own connection to the store, nothing kept from the one before
    again = Database(store_url)
    await again.start()
    try:
        restarted = await Metering(again, config).start()
        assert await restarted.flush({"tpa-zona": GB}, utc(23, 4)) == []
    finally:
        await again.close()


async def test_a_new_local_day_in_jakarta_starts_the_daily_allowance_again(db: Database) -> None:
    daily = {"id": "harian", "cameras": ["tpa-zona"], "daily": "1 GB"}
    hub = await Metering(db, city(daily)).start()
    # 16:30 UTC is 23:30 in Jakarta, 23 November
    [first] = await hub.flush({"tpa-zona": 1_200_000_000}, utc(23, 16, 30))
    assert (first.data["period"], first.data["since"]) == ("day", "2026-11-23")
    assert await hub.flush({"tpa-zona": 500_000_000}, utc(23, 16, 59)) == []
    # 17:00 UTC is midnight in Jakarta: 24 November starts from nothing
    assert await hub.flush({"tpa-zona": 600_000_000}, utc(23, 17, 0)) == []
    [second] = await hub.flush({"tpa-zona": 400_000_000}, utc(23, 17, 30))
    assert (second.data["since"], second.data["used_bytes"]) == ("2026-11-24", GB)


async def test_a_new_package_month_starts_on_its_renewal_day(db: Database) -> None:
    package = {**TELKOMSEL, "renews_on": 5}
    hub = await Metering(db, city(package)).start()
    [old] = await hub.flush({"tpa-zona": 50 * GB}, utc(4, 16, 59))  # 4 Nov, 23:59 in Jakarta
    assert old.data["since"] == "2026-10-05"
    assert await hub.flush({"tpa-zona": 40 * GB}, utc(4, 17, 0)) == []  # 5 Nov, 00:00
    [new] = await hub.flush({"tpa-zona": 10 * GB}, utc(20, 1))
    assert (new.data["since"], new.data["used_bytes"]) == ("2026-11-05", 50 * GB)


async def test_usage_warning_at_a_share_then_exceeded(db: Database) -> None:
    package = {**TELKOMSEL, "warn_at": "80%"}
    hub = await Metering(db, city(package)).start()
    assert await hub.flush({"tpa-zona": 39 * GB}, utc(10, 1)) == []
    [warning] = await hub.flush({"tpa-zona": 2 * GB}, utc(10, 2))
    assert warning.type == "usage.warning" and warning.data["warn_at"] == 0.8
    assert await hub.flush({"tpa-zona": 2 * GB}, utc(10, 3)) == []
    [exceeded] = await hub.flush({"tpa-zona": 8 * GB}, utc(10, 4))
    assert exceeded.type == "usage.exceeded"


async def test_one_flush_past_the_warning_and_the_allowance_raises_exceeded_only(
    db: Database,
) -> None:
    hub = await Metering(db, city({**TELKOMSEL, "warn_at": 0.8})).start()
    [event] = await hub.flush({"tpa-zona": 60 * GB}, utc(10, 1))
    assert event.type == "usage.exceeded"


async def test_cameras_by_tag_and_owner_and_each_of_several_packages(db: Database) -> None:
    dlh_4g = {"id": "dlh-4g", "tags": ["4g"], "owners": ["dlh"], "daily": "2 GB"}
    gerbang = {"id": "gerbang", "cameras": ["tpa-gerbang"], "monthly": "3 GB"}
    hub = await Metering(db, city(dlh_4g, gerbang)).start()
    counts = {"tpa-zona": 3 * GB, "tpa-gerbang": 4 * GB, "simpang-lima": 9 * GB, "alun-alun": GB}
    events = await hub.flush(counts, utc(10, 1))
    # simpang-lima is 4G but dishub's; alun-alun neither: neither package covers them
    assert sorted(summary(events)) == [
        ("usage.exceeded", "tpa-gerbang", "dlh-4g", "day", 4 * GB, 2 * GB),
        ("usage.exceeded", "tpa-gerbang", "gerbang", "month", 4 * GB, 3 * GB),
        ("usage.exceeded", "tpa-zona", "dlh-4g", "day", 3 * GB, 2 * GB),
    ]


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL the store runs, as it runs it."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sql_event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sql_event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_the_sums_take_one_query_per_flush(db: Database, statements: list[str]) -> None:
    everyone = [camera["id"] for camera in CAMERAS]
    packages = (
        {"id": "harian", "cameras": everyone, "daily": "1 GB"},
        {"id": "bulanan", "cameras": everyone, "monthly": "20 GB", "renews_on": 15},
        {"id": "prabayar", "cameras": everyone, "monthly": "25 GB", "period": "30d",
         "bought_on": "2026-10-28"},
    )  # fmt: skip
    hub = await Metering(db, city(*packages)).start()
    statements.clear()
    events = await hub.watch.check(dict.fromkeys(everyone, GB), utc(10, 1))
    assert events == []  # nothing was added to the ledger: nothing crossed
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "data_usage" in reads[0]
    statements.clear()
    assert len(await hub.flush(dict.fromkeys(everyone, 30 * GB), utc(10, 2))) == 3 * len(everyone)
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1


@pytest.mark.parametrize(
    ("package", "today", "start"),
    [
        ({}, date(2026, 11, 1), date(2026, 11, 1)),
        ({}, date(2026, 11, 30), date(2026, 11, 1)),
        ({"renews_on": 15}, date(2026, 1, 10), date(2025, 12, 15)),
        ({"renews_on": 31}, date(2026, 2, 28), date(2026, 2, 28)),
        ({"renews_on": 31}, date(2026, 3, 30), date(2026, 2, 28)),
        ({"renews_on": 31}, date(2026, 3, 31), date(2026, 3, 31)),
        ({"period": "30d", "bought_on": "2026-10-20"}, date(2026, 11, 18), date(2026, 10, 20)),
        ({"period": "30d", "bought_on": "2026-10-20"}, date(2026, 11, 19), date(2026, 11, 19)),
        ({"period": "30d", "bought_on": "2026-10-20"}, date(2026, 10, 19), date(2026, 9, 20)),
    ],
)
def test_the_package_month(package: dict[str, Any], today: date, start: date) -> None:
    model = DataPackage.model_validate({"id": "p", "cameras": ["c"], "monthly": "1 GB", **package})
    assert month_start(model, today) == start


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "pantau.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    return [str(issue).removeprefix(f"{path}:") for issue in caught.value.issues]


def test_config_mistakes_name_the_line_and_the_field(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        owners: [{id: dlh, name: DLH, kind: opd}]
        cameras:
          - {id: tpa-zona, name: Zona aktif TPA, owner: dlh, url: rtsp://10.0.0.1/live}
        data_packages:
          - id: telkomsel
            cameras: [tpa-zonaa]
            owners: [dlhh]
            monthly: 50
          - id: telkomsel
            cameras: [tpa-zona]
            daily: 2 GeB
            warn_at: 80
          - id: kosong
            monthly: 50 GB
          - id: tanpa-kuota
            tags: [4g]
          - id: prabayar
            tags: [4g]
            monthly: 30 GB
            period: 30d
          - id: bulanan
            tags: [4g]
            monthly: 30 GB
            renews_on: 0
            bought_on: 5 November
        """,
    ) == [
        "6: data_packages[0].cameras[0]: no camera with id 'tpa-zonaa'",
        "7: data_packages[0].owners[0]: no owner with id 'dlhh'",
        "8: data_packages[0].monthly: must be a size with its unit, such as 50 GB or 500 MiB, "
        "got 50",
        "9: data_packages[1].id: duplicate id 'telkomsel' (first at line 5)",
        "11: data_packages[1].daily: must be a size with its unit, such as 50 GB or 500 MiB, "
        "got '2 GeB'",
        "12: data_packages[1].warn_at: must be a share below 100%, such as 80% or 0.8, got 80",
        "13: data_packages[2]: must say which cameras it covers: cameras, tags or owners",
        "15: data_packages[3]: needs a daily or a monthly allowance, such as monthly: 50 GB",
        "17: data_packages[4].bought_on: is required with period 30d: a day the package was "
        "bought, such as 2026-11-05",
        "24: data_packages[5].renews_on: must be at least 1, got 0",
        "25: data_packages[5].bought_on: must be a date such as 2026-11-05, got '5 November'",
    ]


def test_config_fields_that_belong_to_the_other_period(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        data_packages:
          - {id: a, tags: [4g], monthly: 1 GB, bought_on: 2026-11-05}
          - {id: b, tags: [4g], monthly: 1 GB, period: 30d, bought_on: 2026-11-05, renews_on: 5}
        """,
    ) == [
        "2: data_packages[0].bought_on: is only used with period 30d",
        "3: data_packages[1].renews_on: is only used with period month",
    ]
