"""The bus recorder: camera changes, incident acks and sign-ins become audit records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from hub.access.audit import SignedIn, SignInRefused, TokenUsed
from hub.audit import HUB, Action, ActorKind, AuditLog, AuditRecorder
from hub.bus import LocalBus
from hub.cli import main
from hub.config import Config
from hub.credentials import CredentialBox
from hub.events import Context, Event, MotionStart
from hub.registry import CameraInput, OwnerInput, Registry
from hub.runtime import Hub
from hub.store import Database
from hub.store.models import AuditRecordRow

CAMERA_PASSWORD = "Sandi-Kamera-991"
CHANNEL_TOKEN = "Tkn-Rahasia-4242"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def bus() -> AsyncIterator[LocalBus]:
    running = LocalBus()
    await running.start()
    try:
        yield running
    finally:
        await running.close()


async def test_camera_changes_are_recorded_with_their_owner(
    db: Database, bus: LocalBus, credentials: CredentialBox, audit: AuditLog
) -> None:
    registry = Registry(db, credentials, bus)
    recorder = AuditRecorder(audit, bus, registry.get_camera)
    await recorder.start()
    try:
        await registry.add_owner(OwnerInput(id="sunrise", name="Sunrise Mall", kind="private"))
        await registry.add_camera(
            CameraInput(
                id="mall-lobi",
                name="Lobi",
                owner="sunrise",
                url=f"rtsp://admin:{CAMERA_PASSWORD}@10.0.0.5/ch1",
            )
        )
        await registry.update_camera("mall-lobi", name="Lobi utama", password="Baru-Rahasia-7")
        await registry.remove_camera("mall-lobi")
    finally:
        await recorder.stop()
    records = list(reversed(await audit.records()))
    actions = [r.action for r in records]
    assert actions == ["camera.add", "camera.update", "camera.remove", "audit.anchor"]
    added, updated, removed = records[:3]
    assert all(r.camera_id == "mall-lobi" and r.owner_id == "sunrise" for r in records[:3])
    assert all(r.actor == "hub" and r.actor_kind == ActorKind.HUB for r in records[:3])
    assert added.details == {"name": "Lobi", "vendor": "rtsp", "source": "api"}
    assert updated.details["changed"] == ["name", "password"]  # which fields, not their values
    assert removed.details == {"name": "Lobi utama", "source": "api"}
    dump = json.dumps([r.as_dict() for r in records])
    assert CAMERA_PASSWORD not in dump and "Baru-Rahasia-7" not in dump
    assert "10.0.0.5" not in dump  # nor where the camera is reached
    assert (await audit.verify()).intact


async def test_incident_acks_and_resolves_are_recorded_with_who(
    db: Database, bus: LocalBus, credentials: CredentialBox, audit: AuditLog
) -> None:
    registry = Registry(db, credentials, bus)
    await registry.add_owner(OwnerInput(id="dlh", name="DLH", kind="opd"))
    await registry.add_camera(CameraInput(id="tpa", name="TPA", owner="dlh", url="rtsp://h/x"))
    recorder = AuditRecorder(audit, bus, registry.get_camera)
    await recorder.start()
    try:
        common = {"incident_id": "inc-1", "title": "Api di gerbang", "severity": "high"}
        # as IncidentService._commit publishes them
        for kind, by, extra in (
            ("acknowledged", "damkar (link)", {}),
            ("resolved", "operator-sari", {"reason": "padam"}),
            ("resolved", "rule:kamera-gelap", {"reason": "back online and stable"}),
            ("escalated", "hub", {}),  # not an access: not recorded
        ):
            data = {**common, "by": by, "state": kind, **extra}
            await bus.publish(Event(type=f"incident.{kind}", camera_id="tpa", data=data))
    finally:
        await recorder.stop()
    records = [r for r in reversed(await audit.records()) if r.action != Action.AUDIT_ANCHOR]
    assert [(r.action, r.actor, r.actor_kind, r.actor_name) for r in records] == [
        ("incident.ack", "responder:damkar", "responder", "damkar"),
        ("incident.resolve", "operator-sari", "named", "operator-sari"),
        ("incident.resolve", "rule:kamera-gelap", "hub", "rule:kamera-gelap"),
    ]
    assert all(r.camera_id == "tpa" and r.owner_id == "dlh" for r in records)
    assert records[1].details == {
        "incident_id": "inc-1",
        "title": "Api di gerbang",
        "severity": "high",
        "state": "resolved",
        "reason": "padam",
    }


async def test_sign_ins_and_token_use_are_recorded(bus: LocalBus, audit: AuditLog) -> None:
    clock = Clock()
    recorder = AuditRecorder(audit, bus, clock=clock)
    await recorder.start()
    try:
        await bus.publish(
            SignedIn.create(
                context=Context(user_id="u-ana"),
                data={"user": "ana", "role": "admin", "address": "10.1.1.1"},
            )
        )
        await bus.publish(
            SignInRefused.create(
                data={"name": None, "address": "203.0.113.9", "reason": "wrong name or password"}
            )
        )
        use = {"token": "a1b2c3", "user": "integrator", "method": "GET", "path": "/api/cameras"}
        for _ in range(3):  # a dashboard polling: once a minute is enough
            await bus.publish(TokenUsed.create(context=Context(user_id="u-int"), data=use))
        await bus.publish(
            TokenUsed.create(data={**use, "path": "/api/incidents"})  # another path: recorded
        )
        await asyncio.sleep(0.2)
        clock.now += 61
        await bus.publish(TokenUsed.create(data=use))
    finally:
        await recorder.stop()
    records = [r for r in reversed(await audit.records()) if r.action != Action.AUDIT_ANCHOR]
    assert [(r.action, r.actor, r.actor_kind, r.source) for r in records] == [
        ("login", "u-ana", "user", "10.1.1.1"),
        ("login.failed", "unknown", "anonymous", "203.0.113.9"),
        ("token.use", "a1b2c3", "token", None),
        ("token.use", "a1b2c3", "token", None),
        ("token.use", "a1b2c3", "token", None),
    ]
    assert records[0].actor_name == "ana" and records[0].details == {"role": "admin"}
    assert records[1].details == {"reason": "wrong name or password"}
    assert [r.details["path"] for r in records[2:]] == [
        "/api/cameras",
        "/api/incidents",
        "/api/cameras",
    ]
    assert records[2].actor_name == "integrator"


# -- in the running hub -------------------------------------------------------------------------


def city(tmp_path: Path, camera_name: str = "Gerbang TPA") -> dict[str, Any]:
    return {
        "hub": {"data_dir": str(tmp_path / "var"), "streams": {"enabled": False}},
        "owners": [{"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"}],
        "cameras": [
            {
                "id": "tpa-gerbang",
                "name": camera_name,
                "owner": "dlh",
                "url": "rtsp://127.0.0.1:9/live",
                "username": "admin",
                "password": CAMERA_PASSWORD,
            }
        ],
        "responders": [
            {
                "id": "satpol-pp",
                "name": "Satpol PP",
                "channels": [f"json://127.0.0.1:9/hook?token={CHANNEL_TOKEN}"],
            }
        ],
        "rules": [
            {
                "id": "gerak-gerbang",
                "events": ["motion.*"],
                "zones": ["gate"],
                "title": "Gerak di {zone}",
                "responders": ["satpol-pp"],
            }
        ],
    }


async def run_hub(tmp_path: Path, data: dict[str, Any], ack_by: str | None = None) -> None:
    hub = Hub(Config.model_validate(data))
    await hub.start()
    try:
        if ack_by is not None:
            assert hub.incidents is not None
            opened: asyncio.Queue[Event] = asyncio.Queue()
            hub.bus.subscribe("incident.triggered", opened.put, name="test:opened")
            motion = MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"})
            await hub.bus.publish(motion)
            async with asyncio.timeout(10):
                incident = await opened.get()
            assert await hub.incidents.acknowledge(incident.data["incident_id"], ack_by)
    finally:
        await hub.stop()


async def invoke(config: Path, *args: str) -> Result:
    """`pantau audit ...`, in a thread: it runs its own event loop."""
    arguments = ["audit", *args, "-c", str(config)]
    return await asyncio.to_thread(CliRunner().invoke, main, arguments, catch_exceptions=False)


async def test_the_running_hub_keeps_its_audit_log(tmp_path: Path) -> None:
    data = city(tmp_path)
    await run_hub(tmp_path, data, ack_by="operator-sari")
    await run_hub(tmp_path, data)  # the same config again: no config.change
    await run_hub(tmp_path, city(tmp_path, camera_name="Gerbang utama TPA"))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'pantau.db'}")
    await db.start()
    try:
        records = list(reversed(await AuditLog(db).records()))
        async with db.engine.connect() as connection:
            dump = repr((await connection.execute(select(AuditRecordRow.__table__))).all())
    finally:
        await db.close()
    assert [r.action for r in records] == [
        "camera.add",  # the config's camera, synced at the first start
        "config.change",
        "incident.ack",
        "audit.anchor",  # signed as the hub stopped; the second run appended nothing to sign
        "camera.update",
        "config.change",
        "audit.anchor",
    ]
    ack = next(r for r in records if r.action == "incident.ack")
    assert (ack.actor, ack.actor_kind, ack.camera_id, ack.owner_id) == (
        "operator-sari",
        "named",
        "tpa-gerbang",
        "dlh",
    )
    added = records[0]
    assert (added.action, added.actor, added.owner_id) == ("camera.add", HUB.id, "dlh")
    changes = [r for r in records if r.action == "config.change"]
    assert changes[1].details["previous"] == changes[0].details["digest"]
    assert CAMERA_PASSWORD not in dump and CHANNEL_TOKEN not in dump
    # the operator's view: verify, list, export
    config = tmp_path / "city.json"
    config.write_text(json.dumps(city(tmp_path, camera_name="Gerbang utama TPA")))
    verified = await invoke(config, "verify")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("audit log intact: 7 records")
    assert "2 anchors checked" in verified.stdout and "not checked" not in verified.stdout
    listed = await invoke(config, "list", "--owner", "dlh", "--json")
    assert listed.exit_code == 0
    assert [r["action"] for r in json.loads(listed.stdout)] == [
        "camera.update",
        "incident.ack",
        "camera.add",
    ]
    table = await invoke(config, "list", "--action", "incident.ack")
    assert "operator-sari" in table.stdout and "1 record" in table.stdout
    exported = await invoke(config, "export", "--owner", "dlh", "--since", "2020-01-01")
    assert exported.exit_code == 0
    assert exported.stdout.startswith("seq,time,actor,")
    # the header, the three records of dlh and the export's own record, each ended CRLF
    # (Result.stdout hides it)
    assert exported.stdout_bytes.count(b"\r\n") == 5
    assert exported.stdout.splitlines()[-1].split(",")[5] == "audit.export"
    assert "4 records exported" in exported.stderr
    assert CAMERA_PASSWORD not in exported.stdout and CHANNEL_TOKEN not in exported.stdout
    # the export was itself recorded; the chain still holds
    again = await invoke(config, "list", "--action", "audit.export", "--json")
    (export,) = json.loads(again.stdout)
    assert export["owner"] == "dlh" and export["actor"].startswith("cli")
    assert (await invoke(config, "verify")).exit_code == 0
    bad = await invoke(config, "list", "--action", "camera.peek")
    assert bad.exit_code == 2 and "unknown action" in bad.stderr


async def test_pantau_audit_verify_names_the_first_broken_record(tmp_path: Path) -> None:
    data = city(tmp_path)
    await run_hub(tmp_path, data)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'pantau.db'}")
    await db.start()
    try:
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql("DROP TRIGGER audit_records_no_update")
            await connection.exec_driver_sql(
                "UPDATE audit_records SET actor_name = 'someone' WHERE seq = 1"
            )
    finally:
        await db.close()
    config = tmp_path / "city.json"
    config.write_text(json.dumps(data))
    result = await invoke(config, "verify")
    assert result.exit_code == 1
    assert "audit log broken at record 1: record 1 (camera.add," in result.stderr
