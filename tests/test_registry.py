from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from hub.config import Config
from hub.credentials import CredentialBox
from hub.events import CameraAdded, CameraRemoved, CameraUpdated, Event
from hub.registry import (
    CameraInput,
    CameraSource,
    Change,
    EntryKey,
    OwnerInput,
    Registry,
    RegistryError,
    RegistryNotFound,
    SiteInput,
)
from hub.store import CameraRow, Database


class RecordingBus:
    """Stands in for the event bus: remembers what was published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[tuple[str, str | None]]:
        return [(event.type, event.camera_id) for event in self.events]


@pytest.fixture
def credentials() -> CredentialBox:
    return CredentialBox(keys=[CredentialBox.generate_key()])


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def registry(db: Database, credentials: CredentialBox, bus: RecordingBus) -> Registry:
    return Registry(db, credentials, bus)


def make_config(cameras: list[dict[str, Any]] | None = None, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "owners": [
            {"id": "diskominfo", "name": "Diskominfo Pati", "kind": "opd"},
            {
                "id": "dishub",
                "name": "Dishub Pati",
                "kind": "opd",
                "contact": {"name": "Pak Budi", "phone": "+62 811 000"},
            },
        ],
        "sites": [
            {
                "id": "alun-alun",
                "name": "Alun-alun Pati",
                "owner": "diskominfo",
                "lat": -6.75,
                "lon": 111.04,
            },
        ],
        "cameras": cameras
        if cameras is not None
        else [
            {
                "id": "alun-1",
                "name": "Alun-alun utara",
                "owner": "diskominfo",
                "site": "alun-alun",
                "url": "rtsp://10.0.0.5:554/stream1",
                "username": "admin",
                "password": "config-secret",
                "tags": ["public"],
            },
            {"id": "simpang-5", "name": "Simpang lima", "owner": "dishub", "host": "10.0.0.6"},
        ],
    }
    data.update(sections)
    return Config.model_validate(data)


async def add_dishub(registry: Registry) -> None:
    await registry.add_owner(OwnerInput(id="dishub", name="Dishub", kind="opd"))


def camera(camera_id: str = "cam-1", **fields: Any) -> CameraInput:
    values: dict[str, Any] = {"name": "Camera one", "owner": "dishub", "host": "10.1.1.1"}
    values.update(fields)
    return CameraInput(id=camera_id, **values)


# -- CRUD ----------------------------------------------------------------------------------------


async def test_owner_site_and_camera_crud(registry: Registry) -> None:
    owner = await registry.add_owner(
        OwnerInput(id="dishub", name="Dishub", kind="opd", contact_phone="+62 811")
    )
    assert owner.source is CameraSource.API
    assert owner.created_at.tzinfo is not None
    site = await registry.add_site(
        SiteInput(id="simpang-5", name="Simpang Lima", owner="dishub", lat=-6.75, lon=111.04)
    )
    assert site.owner == "dishub"
    added = await registry.add_camera(camera(site="simpang-5", tags=["traffic", " ", "traffic"]))
    assert added.tags == ("traffic",)
    assert added.site == "simpang-5"
    assert added.vendor == "rtsp"

    assert await registry.get_camera("cam-1") == added
    as_json = json.loads(json.dumps(added.as_dict()))
    assert (as_json["source"], as_json["tags"]) == ("api", ["traffic"])
    assert as_json["created_at"] == added.created_at.isoformat()
    assert [c.id for c in await registry.list_cameras()] == ["cam-1"]
    assert [c.id for c in await registry.list_cameras(owner="dishub")] == ["cam-1"]
    assert await registry.list_cameras(owner="nobody") == []
    assert [s.id for s in await registry.list_sites(owner="dishub")] == ["simpang-5"]
    assert [o.id for o in await registry.list_owners()] == ["dishub"]

    updated = await registry.update_camera("cam-1", name="Simpang Lima timur", port=8554)
    assert (updated.name, updated.port, updated.created_at) == (
        "Simpang Lima timur",
        8554,
        added.created_at,
    )
    assert updated.updated_at >= added.updated_at
    switched = await registry.update_camera("cam-1", url="rtsp://10.1.1.1/live")
    assert (switched.url, switched.host) == ("rtsp://10.1.1.1/live", None)
    moved = await registry.update_site("simpang-5", address="Jl. Sudirman")
    assert moved.address == "Jl. Sudirman"
    renamed = await registry.update_owner("dishub", name="Dinas Perhubungan")
    assert renamed.name == "Dinas Perhubungan"

    await registry.remove_camera("cam-1")
    assert await registry.get_camera("cam-1") is None
    await registry.remove_site("simpang-5")
    await registry.remove_owner("dishub")
    assert await registry.list_owners() == []


async def test_adding_refuses_taken_ids_and_unknown_references(registry: Registry) -> None:
    await add_dishub(registry)
    await registry.add_camera(camera())
    with pytest.raises(RegistryError, match="camera 'cam-1' already exists"):
        await registry.add_camera(camera())
    with pytest.raises(RegistryError, match="^no owner with id 'dishubb'$"):
        await registry.add_camera(camera("cam-2", owner="dishubb"))
    with pytest.raises(RegistryError, match="^no site with id 'nowhere'$"):
        await registry.add_camera(camera("cam-2", site="nowhere"))
    with pytest.raises(RegistryError, match="owner 'dishub' already exists"):
        await add_dishub(registry)
    with pytest.raises(RegistryError, match="no owner with id 'x'"):
        await registry.add_site(SiteInput(id="s", name="S", owner="x", lat=0, lon=0))
    assert [c.id for c in await registry.list_cameras()] == ["cam-1"]


async def test_removing_refuses_while_something_refers_to_it(registry: Registry) -> None:
    await add_dishub(registry)
    await registry.add_site(SiteInput(id="s", name="S", owner="dishub", lat=0, lon=0))
    await registry.add_camera(camera(site="s"))
    with pytest.raises(RegistryError, match="owner 'dishub' still has 1 camera and 1 site"):
        await registry.remove_owner("dishub")
    with pytest.raises(RegistryError, match="site 's' still has 1 camera"):
        await registry.remove_site("s")
    with pytest.raises(RegistryNotFound, match="no camera with id 'ghost'"):
        await registry.remove_camera("ghost")


async def test_updates_are_validated_and_limited_to_known_fields(registry: Registry) -> None:
    await add_dishub(registry)
    await registry.add_camera(camera())
    with pytest.raises(RegistryError, match="lat must be between -90 and 90, got 191"):
        await registry.update_camera("cam-1", lat=191, lon=0)
    with pytest.raises(RegistryError, match="cannot change camera field"):
        await registry.update_camera("cam-1", source="config")
    with pytest.raises(RegistryError, match="no owner with id 'x'"):
        await registry.update_camera("cam-1", owner="x")
    record = await registry.get_camera("cam-1")
    assert record is not None and record.lat is None and record.owner == "dishub"


def test_camera_input_speaks_plain_words() -> None:
    with pytest.raises(ValidationError, match="needs either url or host"):
        CameraInput(id="c", name="C", owner="o")
    with pytest.raises(ValidationError, match="port must be between 1 and 65535, got 70000"):
        CameraInput(id="c", name="C", owner="o", host="h", port=70000)
    with pytest.raises(ValidationError, match="url must start with one of rtsp://"):
        CameraInput(id="c", name="C", owner="o", url="ftp://h/x")
    with pytest.raises(ValidationError, match="id must be lowercase"):
        CameraInput(id="Cam 1", name="C", owner="o", host="h")


async def test_events_follow_camera_changes(registry: Registry, bus: RecordingBus) -> None:
    await add_dishub(registry)
    await registry.add_camera(camera())
    await registry.update_camera("cam-1", name="Camera one")  # no change, no event
    await registry.update_camera("cam-1", name="Renamed")
    await registry.remove_camera("cam-1")
    assert bus.types() == [
        ("camera.added", "cam-1"),
        ("camera.updated", "cam-1"),
        ("camera.removed", "cam-1"),
    ]
    added, updated, removed = bus.events
    assert isinstance(added, CameraAdded) and added.data["source"] == "api"
    assert isinstance(updated, CameraUpdated) and updated.data["changed"] == ["name"]
    assert isinstance(removed, CameraRemoved) and removed.data["name"] == "Renamed"


async def test_a_registry_without_a_bus_works(db: Database) -> None:
    registry = Registry(db, None)
    await add_dishub(registry)
    assert (await registry.add_camera(camera())).id == "cam-1"


# -- passwords ---------------------------------------------------------------------------------


async def raw_password_column(db: Database, camera_id: str) -> str | None:
    async with db.session() as session:
        return await session.scalar(
            select(CameraRow.password_encrypted).where(CameraRow.id == camera_id)
        )


async def test_passwords_are_encrypted_at_rest_and_never_in_records(
    registry: Registry, db: Database, credentials: CredentialBox
) -> None:
    await add_dishub(registry)
    record = await registry.add_camera(camera(username="admin", password=SecretStr("rahasia-123")))
    stored = await raw_password_column(db, "cam-1")
    assert stored is not None and "rahasia-123" not in stored
    assert credentials.decrypt(stored) == "rahasia-123"
    assert record.has_password
    assert "rahasia-123" not in repr(record)
    assert "rahasia-123" not in str(record.as_dict())
    assert not hasattr(record, "password")
    assert await registry.camera_password("cam-1") == "rahasia-123"

    await registry.update_camera("cam-1", name="Renamed")  # other changes keep the password
    assert await registry.camera_password("cam-1") == "rahasia-123"
    await registry.update_camera("cam-1", password=None)
    assert await raw_password_column(db, "cam-1") is None
    assert not (await registry.get_camera("cam-1") or record).has_password


async def test_credentials_in_a_url_are_split_out_and_encrypted(
    registry: Registry, db: Database
) -> None:
    await add_dishub(registry)
    record = await registry.add_camera(
        camera(host=None, url="rtsp://admin:p%40ss@10.0.0.5:554/Streaming/Channels/101")
    )
    assert record.url == "rtsp://10.0.0.5:554/Streaming/Channels/101"
    assert record.username == "admin"
    assert record.has_password
    assert await registry.camera_password("cam-1") == "p@ss"
    stored = await raw_password_column(db, "cam-1")
    assert stored is not None and "p@ss" not in stored


async def test_a_password_is_refused_without_a_credential_box(db: Database) -> None:
    registry = Registry(db, None)
    await add_dishub(registry)
    with pytest.raises(RegistryError, match="cannot store the password of camera 'cam-1'"):
        await registry.add_camera(camera(password=SecretStr("x")))
    assert await registry.get_camera("cam-1") is None


async def test_rotating_keys_re_encrypts_stored_passwords(db: Database) -> None:
    old_key, new_key = CredentialBox.generate_key(), CredentialBox.generate_key()
    registry = Registry(db, CredentialBox(keys=[old_key]))
    await add_dishub(registry)
    await registry.add_camera(camera(password=SecretStr("rahasia")))
    old_token = await raw_password_column(db, "cam-1")

    rotated = Registry(db, CredentialBox(keys=[new_key, old_key]))
    assert await rotated.rotate_credentials() == 1
    new_token = await raw_password_column(db, "cam-1")
    assert new_token is not None and new_token != old_token
    assert CredentialBox(keys=[new_key]).decrypt(new_token) == "rahasia"
    assert await Registry(db, CredentialBox(keys=[new_key])).camera_password("cam-1") == "rahasia"


# -- the config ----------------------------------------------------------------------------------


async def test_sync_adds_config_entries_with_their_source(
    registry: Registry, db: Database, bus: RecordingBus
) -> None:
    report = await registry.sync_from_config(make_config())
    assert report.added == [
        EntryKey("owner", "diskominfo"),
        EntryKey("owner", "dishub"),
        EntryKey("site", "alun-alun"),
        EntryKey("camera", "alun-1"),
        EntryKey("camera", "simpang-5"),
    ]
    assert (report.updated, report.removed, report.conflicts) == ([], [], [])
    owner = await registry.get_owner("dishub")
    assert owner is not None and owner.contact_name == "Pak Budi"
    assert owner.source is CameraSource.CONFIG
    cam = await registry.get_camera("alun-1")
    assert cam is not None
    assert (cam.source, cam.site, cam.username, cam.has_password, cam.tags) == (
        CameraSource.CONFIG,
        "alun-alun",
        "admin",
        True,
        ("public",),
    )
    # The config's password stays in the config: none in the store, given on request.
    assert await raw_password_column(db, "alun-1") is None
    assert await registry.camera_password("alun-1") == "config-secret"
    assert bus.types() == [("camera.added", "alun-1"), ("camera.added", "simpang-5")]


async def test_sync_updates_and_removes_config_entries(
    registry: Registry, bus: RecordingBus
) -> None:
    await registry.sync_from_config(make_config())
    again = await registry.sync_from_config(make_config())
    assert (again.added, again.updated, again.removed, again.conflicts) == ([], [], [], [])

    bus.events.clear()
    changed = make_config(
        cameras=[
            {
                "id": "alun-1",
                "name": "Alun-alun utara",
                "owner": "diskominfo",
                "url": "rtsp://10.0.0.5:554/stream2",
            },
        ],
        sites=[],
    )
    report = await registry.sync_from_config(changed)
    assert report.updated == [EntryKey("camera", "alun-1")]
    assert report.removed == [EntryKey("camera", "simpang-5"), EntryKey("site", "alun-alun")]
    assert report.conflicts == []
    cam = await registry.get_camera("alun-1")
    assert cam is not None and cam.url == "rtsp://10.0.0.5:554/stream2" and not cam.has_password
    assert await registry.camera_password("alun-1") is None
    assert bus.types() == [("camera.updated", "alun-1"), ("camera.removed", "simpang-5")]
    assert bus.events[0].data["changed"] == ["site", "url", "username", "password", "tags"]


async def test_sync_never_touches_api_or_import_entries(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    await add_dishub(registry)
    api_camera = await registry.add_camera(camera("alun-1", name="Added by hand"))
    await registry.add_camera(camera("pasar-1"), source=CameraSource.IMPORT)
    with caplog.at_level(logging.WARNING, logger="hub.registry"):
        report = await registry.sync_from_config(make_config())
    assert [(c.kind, c.id) for c in report.conflicts] == [("owner", "dishub"), ("camera", "alun-1")]
    assert "camera 'alun-1' in the config is skipped" in report.conflicts[1].reason
    assert "the API" in report.conflicts[1].reason
    assert any("alun-1" in record.getMessage() for record in caplog.records)
    assert await registry.get_camera("alun-1") == api_camera
    # The config no longer declaring anything removes only what it declared.
    report = await registry.sync_from_config(make_config(cameras=[], sites=[], owners=[]))
    assert report.removed == [
        EntryKey("camera", "simpang-5"),
        EntryKey("site", "alun-alun"),
        EntryKey("owner", "diskominfo"),
    ]
    assert {c.id for c in await registry.list_cameras()} == {"alun-1", "pasar-1"}
    sources = {c.id: c.source for c in await registry.list_cameras()}
    assert sources == {"alun-1": CameraSource.API, "pasar-1": CameraSource.IMPORT}


async def test_a_removed_config_owner_still_used_elsewhere_is_kept(registry: Registry) -> None:
    await registry.sync_from_config(make_config(cameras=[]))
    await registry.add_camera(camera("api-1", owner="diskominfo"))
    report = await registry.sync_from_config(make_config(cameras=[], sites=[], owners=[]))
    assert [(c.kind, c.id) for c in report.conflicts] == [("owner", "diskominfo")]
    assert "still has 1 camera" in report.conflicts[0].reason
    assert await registry.get_owner("diskominfo") is not None
    assert await registry.get_owner("dishub") is None


async def test_config_entries_are_changed_in_the_config_only(registry: Registry) -> None:
    await registry.sync_from_config(make_config())
    message = "camera 'alun-1' is declared in the config; change it there"
    with pytest.raises(RegistryError, match=message):
        await registry.update_camera("alun-1", name="x")
    with pytest.raises(RegistryError, match=message):
        await registry.remove_camera("alun-1")
    with pytest.raises(RegistryError, match="owner 'dishub' is declared in the config"):
        await registry.remove_owner("dishub")
    with pytest.raises(RegistryError, match="site 'alun-alun' is declared in the config"):
        await registry.update_site("alun-alun", name="x")
    with pytest.raises(RegistryError, match="camera 'alun-1' is declared in the config"):
        await registry.save_camera(camera("alun-1"), CameraSource.IMPORT)


async def test_save_camera_reports_what_it_did(registry: Registry) -> None:
    await add_dishub(registry)
    first = camera(password=SecretStr("pw"))
    assert await registry.save_camera(first, CameraSource.IMPORT) is Change.ADDED
    assert await registry.save_camera(first, CameraSource.IMPORT) is Change.UNCHANGED
    renamed = camera(name="Renamed", password=SecretStr("pw"))
    assert await registry.save_camera(renamed, CameraSource.IMPORT) is Change.UPDATED
    # Fields outside `fields` keep their stored values, the password included.
    bare = camera(name="Renamed", host="10.9.9.9")
    outcome = await registry.save_camera(bare, CameraSource.IMPORT, fields={"name"})
    assert outcome is Change.UNCHANGED
    assert await registry.camera_password("cam-1") == "pw"
    with pytest.raises(RegistryError, match="camera 'cam-1' was added through an import"):
        await registry.save_camera(first, CameraSource.API)
