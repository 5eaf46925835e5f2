"""Incidents in the running hub: an event on the bus reaches a responder's receiver, once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.config import Config
from hub.events import Event, MotionStart
from hub.runtime import Hub
from tests.incidents.outbox_kit import stored_incidents
from tests.incidents.receivers import WebhookReceiver
from tests.plugins.hikvision.device import jpeg


def city(tmp_path: Path, hook: str) -> Config:
    return Config.model_validate(city_data(tmp_path, hook))


def city_data(tmp_path: Path, hook: str) -> dict[str, Any]:
    return {
        "hub": {"data_dir": str(tmp_path / "var"), "streams": {"enabled": False}},
        "owners": [{"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"}],
        "sites": [
            {"id": "tpa", "name": "TPA Sukoharjo", "owner": "dlh", "lat": -6.7, "lon": 111.0}
        ],
        "cameras": [
            {
                "id": "tpa-gerbang",
                "name": "Gerbang TPA",
                "owner": "dlh",
                "site": "tpa",
                "url": "rtsp://127.0.0.1:9/live",
            }
        ],
        "responders": [{"id": "satpol-pp", "name": "Satpol PP", "channels": [hook]}],
        "rules": [
            {
                "id": "gerak-gerbang",
                "events": ["motion.*"],
                "zones": ["gate"],
                "severity": "high",
                "title": "Gerak di {zone}, {camera}",
                "responders": ["satpol-pp"],
            }
        ],
    }


class Seen:
    def __init__(self, hub: Hub) -> None:
        self.events: list[Event] = []
        self.subscription = hub.bus.subscribe("incident.*", self.keep, name="test:incidents")

    async def keep(self, event: Event) -> None:
        self.events.append(event)

    async def wait(self, action: str, within: float = 10.0) -> Event:
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    if event.type == f"incident.{action}":
                        return event
                await asyncio.sleep(0.05)


async def test_motion_in_the_zone_alerts_the_responder_and_ack_is_recorded(
    tmp_path: Path, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub(city(tmp_path, receiver.url("json", "satpol?token=Rahasia123abc")))
    await hub.start()
    try:
        assert hub.incidents is not None
        seen = Seen(hub)
        picture = jpeg(96, 64)

        async def snapshot(camera_id: str) -> bytes | None:
            # as the keyframe cache would hold it (streams are off in this test)
            return picture if camera_id == "tpa-gerbang" else None

        hub.incidents._snapshot = snapshot
        motion = MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"})
        await hub.bus.publish(motion)
        opened = await seen.wait("triggered")
        assert opened.camera_id == "tpa-gerbang" and opened.data["jobs"] == 1
        await receiver.wait_for(1)
        hit = receiver.hits[0]
        assert hit.title == "[TINGGI] Gerak di gate, Gerbang TPA"
        assert "Sejak " in hit.message and " WIB " in hit.message
        assert (
            "Lokasi: TPA Sukoharjo, https://www.openstreetmap.org/?mlat=-6.700000&mlon=111.000000"
            in hit.message
        )
        assert list(hit.attachments.values()) == [picture]  # attached from the spool, intact
        assert hit.reference is not None  # the idempotency key, for receivers to drop repeats
        incident_id = opened.data["incident_id"]
        assert await hub.incidents.acknowledge(incident_id, "operator-sari")
        acked = await seen.wait("acknowledged")
        assert acked.data["by"] == "operator-sari"
        # a second motion in the same hour is the same incident, not a new alert
        await hub.bus.publish(MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"}))
        await seen.wait("updated")
        await asyncio.sleep(0.5)
        assert len(receiver.hits) == 1
        await seen.subscription.cancel()
    finally:
        await hub.stop()
    # a restart carries on with the open incident
    again = Hub(city(tmp_path, receiver.url("json", "satpol?token=Rahasia123abc")))
    await again.start()
    try:
        assert again.incidents is not None
        assert [i.id for i in again.incidents.engine.incidents()] == [incident_id]
    finally:
        await again.stop()
    assert "Rahasia123abc" not in caplog.text
    # the store answers `pantau incidents list`, with the hub stopped
    config_file = tmp_path / "city.yaml"
    config_file.write_text(json.dumps(city_data(tmp_path, "json://127.0.0.1:9/x")))
    arguments = ["incidents", "list", "-c", str(config_file), "--json"]
    listed = await asyncio.to_thread(CliRunner().invoke, main, arguments)  # it runs its own loop
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["id"] == incident_id and row["state"] == "acknowledged" and row["count"] == 2
    assert row["acknowledged_by"] == "operator-sari" and row["title"].startswith("Gerak di gate")


async def test_a_restart_after_a_crash_between_store_and_saved_state_catches_up(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The store is written first, the engine's state after: a crash between them loses nothing."""
    config = city(tmp_path, receiver.url("json", "satpol"))
    gate = {"zone": "gate"}

    async def started() -> tuple[Hub, Seen]:
        hub = Hub(config)
        await hub.start()
        return hub, Seen(hub)

    hub, seen = await started()
    assert hub.incidents is not None
    state = hub.incidents.state_path
    before = state.read_text(encoding="utf-8") if state.exists() else None
    await hub.bus.publish(MotionStart.create(camera_id="tpa-gerbang", data=gate))
    incident_id = (await seen.wait("triggered")).data["incident_id"]
    acked_before = state.read_text(encoding="utf-8")
    await hub.stop()
    # as if killed after the outbox commit, before the engine's state was written
    if before is None:
        state.unlink()
    else:
        state.write_text(before, encoding="utf-8")

    hub, seen = await started()
    try:
        assert hub.incidents is not None
        assert [i.id for i in hub.incidents.engine.incidents()] == [incident_id]
        await hub.bus.publish(MotionStart.create(camera_id="tpa-gerbang", data=gate))
        repeat = await seen.wait("updated")
        assert repeat.data["incident_id"] == incident_id  # the same incident, not a second
        assert await hub.incidents.acknowledge(incident_id, "operator-sari")
    finally:
        await hub.stop()
    state.write_text(acked_before, encoding="utf-8")  # the saved state missed the ack

    hub, seen = await started()
    try:
        assert hub.incidents is not None
        held = hub.incidents.engine.incident(incident_id)
        assert held is not None and held.state.value == "acknowledged"
        assert held.acknowledged_by == "operator-sari" and held.next_escalation_at is None
        assert await hub.incidents.resolve(incident_id, "operator-sari")
    finally:
        await hub.stop()
    state.write_text(acked_before, encoding="utf-8")  # ... and the resolve

    hub, seen = await started()
    try:
        assert hub.incidents is not None
        assert hub.incidents.engine.incidents() == []
    finally:
        await hub.stop()


async def test_an_event_published_just_before_a_stop_is_still_an_incident(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = city(tmp_path, receiver.url("json", "satpol"))
    hub = Hub(config)
    await hub.start()
    await hub.bus.publish(MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"}))
    await hub.stop()  # at once: the event may still be queued for the incident service
    stored = await stored_incidents(config)
    assert [(i["rule"], i["camera"]) for i in stored] == [("gerak-gerbang", "tpa-gerbang")]
