"""Retention: clips and spooled alert pictures older than their camera allows are deleted; young
ones, and pictures a pending alert still needs, stay."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.bus import LocalBus
from hub.cli import main
from hub.clips import ClipCatalog, ClipState, RetentionPurge, retention_problems
from hub.credentials import CredentialBox
from hub.registry import CameraInput, OwnerInput, Registry
from hub.store import Database
from hub.store.models import IncidentRow, NotificationJobRow, utcnow

DAY = 86_400


async def city(db: Database) -> Registry:
    """Dishub keeps 30 days (the hub's default), Sunrise 7, and Sunrise's lobby camera 2."""
    registry = Registry(db, CredentialBox(keys=[CredentialBox.generate_key()]), LocalBus())
    await registry.add_owner(OwnerInput(id="dishub", name="Dishub", kind="opd"))
    await registry.add_owner(
        OwnerInput(id="sunrise", name="Sunrise Mall", kind="private", retention_days=7)
    )
    for camera_id, owner, options in (
        ("simpang", "dishub", {}),
        ("mall-parkir", "sunrise", {}),
        ("mall-lobi", "sunrise", {"retention_days": 2}),
    ):
        await registry.add_camera(
            CameraInput(
                id=camera_id,
                name=camera_id,
                owner=owner,
                url="rtsp://127.0.0.1:9/x",
                options=options,
            )
        )
    return registry


async def clip(
    catalog: ClipCatalog, folder: Path, camera: str, owner: str, age_days: float
) -> tuple[str, Path]:
    """A ready clip of `camera`, made `age_days` ago, with its file."""
    made = await catalog.add(
        camera_id=camera,
        owner_id=owner,
        created_by="sari",
        pre=5,
        post=5,
        created_at=utcnow() - timedelta(days=age_days),
    )
    path = folder / "clips" / camera / f"{made.id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 1000)
    await catalog.finish(made.id, path=path, frames=10, duration=1.0, size=1000, masked=False)
    return made.id, path


def aged(path: Path, data: bytes, age_days: float) -> Path:
    """Write `path` with a modification time `age_days` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    return path


async def alert(db: Database, incident_id: str, camera: str, picture: Path, state: str) -> None:
    """An incident of `camera` with one notification job attaching `picture`."""
    async with db.session() as session, session.begin():
        session.add(
            IncidentRow(
                id=incident_id,
                dedup_key=incident_id,
                rule_id="gerak",
                owner_id="sunrise",
                camera_id=camera,
                state="open",
                severity="warning",
                title="Gerak",
            )
        )
        await session.flush()
        session.add(
            NotificationJobRow(
                idempotency_key=f"{incident_id}:satpol",
                incident_id=incident_id,
                responder="satpol-pp",
                channel_url_encrypted="x",
                channel="json://***",
                title="Gerak",
                body="Gerak di lobi",
                attachment=str(picture),
                state=state,
                next_attempt_at=utcnow(),
            )
        )


async def test_the_purge_deletes_what_is_past_each_cameras_retention_and_keeps_the_rest(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = await city(db)
    catalog = ClipCatalog(db)
    data = tmp_path / "data"
    purge = RetentionPurge(db, registry, catalog, data, default_days=30)
    # the camera's 2 days, the owner's 7, the hub's 30: each decides for its own clips
    lobby_old = await clip(catalog, data, "mall-lobi", "sunrise", 3)
    lobby_young = await clip(catalog, data, "mall-lobi", "sunrise", 1)
    parking_old = await clip(catalog, data, "mall-parkir", "sunrise", 8)
    parking_young = await clip(catalog, data, "mall-parkir", "sunrise", 3)
    street_young = await clip(catalog, data, "simpang", "dishub", 8)
    stray_old = aged(data / "clips" / "simpang" / "20261001-101010.mp4", b"\0" * 500, 31)
    stray_young = aged(data / "clips" / "simpang" / "20261120-101010.mp4", b"\0" * 500, 29)
    spool = data / "incidents" / "spool"
    old_picture = aged(spool / "a.jpg", b"\xff\xd8" * 100, 3)
    young_picture = aged(spool / "b.jpg", b"\xff\xd8" * 100, 1)
    waiting_picture = aged(spool / "c.jpg", b"\xff\xd8" * 100, 3)
    sent_picture = aged(spool / "d.jpg", b"\xff\xd8" * 100, 3)
    await alert(db, "i1", "mall-lobi", waiting_picture, "pending")
    await alert(db, "i2", "mall-lobi", sent_picture, "delivered")
    await alert(db, "i3", "mall-lobi", young_picture, "delivered")

    dry = await purge.purge(dry_run=True)
    assert dry.owners["sunrise"].clips == 2 and lobby_old[1].exists()
    assert await catalog.get(lobby_old[0]) is not None

    with caplog.at_level(logging.INFO, logger="hub.clips.retention"):
        report = await purge.purge()

    for clip_id, path in (lobby_old, parking_old):
        assert await catalog.get(clip_id) is None and not path.exists()
    for clip_id, path in (lobby_young, parking_young, street_young):
        found = await catalog.get(clip_id)
        assert found is not None and found.state is ClipState.READY and path.exists()
    assert not stray_old.exists() and stray_young.exists()
    # a.jpg belongs to no job: the hub's 30 days; d.jpg was sent for the lobby: 2 days
    assert old_picture.exists() and not sent_picture.exists()
    assert young_picture.exists()
    assert waiting_picture.exists(), "a pending alert still needs its picture"
    assert report.kept_for_jobs == 1
    sunrise, dishub = report.owners["sunrise"], report.owners["dishub"]
    assert (sunrise.clips, sunrise.clip_bytes) == (2, 2000)
    assert (sunrise.pictures, sunrise.picture_bytes) == (1, 200)
    assert (dishub.clips, dishub.clip_bytes, dishub.pictures) == (1, 500, 0)
    logged = [r.getMessage() for r in caplog.records]
    assert "retention purge: sunrise: deleted 2 clips (0.0 MB), 1 picture (0.0 MB)" in logged

    again = await purge.purge()
    assert again.owners == {} and again.kept_for_jobs == 1


def test_a_malformed_camera_retention_is_named() -> None:
    assert retention_problems({"retention_days": 14}) == []
    for bad in (0, "30", 2.5, True, 5000):
        (problem,) = retention_problems({"retention_days": bad})
        assert "options.retention_days must be a whole number of days from 1 to 3650" in problem


def test_pantau_retention_purge_says_what_it_would_delete_and_then_deletes_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    config = tmp_path / "city.yaml"
    config.write_text(
        f"hub:\n  data_dir: {data}\n  retention_days: 5\n"
        "owners:\n  - {id: dishub, name: Dishub, kind: opd}\n"
        "cameras:\n  - {id: simpang, name: Simpang, owner: dishub, url: 'rtsp://127.0.0.1:9/x'}\n",
        encoding="utf-8",
    )
    old = aged(data / "clips" / "simpang" / "20261001-101010.mp4", b"\0" * 2_500_000, 6)
    young = aged(data / "clips" / "simpang" / "20261120-101010.mp4", b"\0" * 10, 4)
    runner = CliRunner()

    dry = runner.invoke(main, ["retention", "purge", "-c", str(config), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dishub: would delete 1 clip (2.5 MB), 0 pictures (0.0 MB)" in dry.output
    assert old.exists()

    done = runner.invoke(main, ["retention", "purge", "-c", str(config)])
    assert done.exit_code == 0, done.output
    assert "dishub: deleted 1 clip (2.5 MB)" in done.output
    assert not old.exists() and young.exists()
    again = runner.invoke(main, ["retention", "purge", "-c", str(config)])
    assert "nothing is past its retention" in again.output
