"""A camera over its data package: the stream engine's flush raises an incident and an alert."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hub.config import Config
from hub.events import Event
from hub.runtime import Hub
from tests.incidents.outbox_kit import stored_incidents
from tests.incidents.receivers import WebhookReceiver

GB = 10**9


def city(tmp_path: Path, hook: str) -> Config:
    data: dict[str, Any] = {
        "hub": {"data_dir": str(tmp_path / "var"), "language": "en"},
        "owners": [{"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"}],
        "sites": [
            {"id": "tpa", "name": "TPA Sukoharjo", "owner": "dlh", "lat": -6.7, "lon": 111.0}
        ],
        "cameras": [
            {
                "id": "tpa-zona",
                "name": "Zona aktif TPA",
                "owner": "dlh",
                "site": "tpa",
                "url": "rtsp://127.0.0.1:9/live",  # nobody listens: no bytes but the test's
                "tags": ["4g"],
            }
        ],
        "data_packages": [{"id": "telkomsel-50gb", "tags": ["4g"], "monthly": "50 GB"}],
        "responders": [{"id": "teknisi", "name": "Teknisi DLH", "channels": [hook]}],
        "rules": [
            {
                "id": "kuota",
                "kind": "data_usage",
                "severity": "low",
                "message": "{camera}: {used} of {allowed} this {period} ({package})",
                "responders": ["teknisi"],
            }
        ],
    }
    return Config.model_validate(data)


class Seen:
    def __init__(self, hub: Hub) -> None:
        self.events: list[Event] = []
        self.arrived = asyncio.Event()
        self.subscriptions = [
            hub.bus.subscribe(pattern, self.keep, name=f"test:{pattern}")
            for pattern in ("usage.*", "incident.*")
        ]

    def keep(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    def of(self, event_type: str) -> list[Event]:
        return [event for event in self.events if event.type == event_type]

    async def wait(self, event_type: str, within: float = 10.0) -> Event:
        async with asyncio.timeout(within):
            while not self.of(event_type):
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(event_type)[0]


async def flush(hub: Hub, camera_id: str, size: int) -> None:
    """What a minute of the camera's stream would have the engine record, here `size` bytes."""
    assert hub.streams is not None
    hub.streams._unflushed[camera_id] = size
    await hub.streams._flush_usage()


async def test_a_camera_over_its_package_raises_one_incident_and_alert(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    hub = Hub(city(tmp_path, receiver.url("json", "teknisi")))
    await hub.start()
    try:
        assert hub.incidents is not None and hub.streams is not None
        seen = Seen(hub)
        await flush(hub, "tpa-zona", 51 * GB)  # one flush: a month's end cannot split it
        exceeded = await seen.wait("usage.exceeded")
        assert exceeded.camera_id == "tpa-zona" and exceeded.data["used_bytes"] == 51 * GB
        opened = await seen.wait("incident.triggered")
        [incident] = hub.incidents.engine.incidents()
        assert opened.data["incident_id"] == incident.id
        assert (incident.kind, incident.rule_id, incident.camera_id) == (
            "data_usage",
            "kuota",
            "tpa-zona",
        )
        assert incident.title == "Zona aktif TPA used more data than its package allows"
        assert incident.message == "Zona aktif TPA: 51.0 GB of 50.0 GB this month (telkomsel-50gb)"
        await receiver.wait_for(1)
        assert "Zona aktif TPA used more data" in receiver.hits[0].title
        # more bytes the same month: the package was used up once, not once per flush
        await flush(hub, "tpa-zona", GB)
        await hub.bus.wait_idle()
        assert len(seen.of("usage.exceeded")) == 1
        for subscription in seen.subscriptions:
            await subscription.cancel()
    finally:
        await hub.stop()
    again = Hub(city(tmp_path, receiver.url("json", "teknisi")))
    await again.start()
    try:
        seen = Seen(again)
        await flush(again, "tpa-zona", GB)
        await again.bus.wait_idle()
        assert seen.of("usage.exceeded") == []
        for subscription in seen.subscriptions:
            await subscription.cancel()
    finally:
        await again.stop()
    assert len(receiver.hits) == 1


async def test_a_package_used_up_in_the_last_minute_before_a_stop_is_still_an_incident(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = city(tmp_path, receiver.url("json", "teknisi"))
    hub = Hub(config)
    await hub.start()
    assert hub.streams is not None
    hub.streams._unflushed["tpa-zona"] = 51 * GB  # counted, not yet flushed: the stop flushes
    await hub.stop()
    stored = await stored_incidents(config)
    assert [(i["rule"], i["camera"], i["state"]) for i in stored] == [
        ("kuota", "tpa-zona", "triggered")
    ]
