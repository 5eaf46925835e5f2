"""The camera registry: owners, sites and cameras from the config, the API and CSV imports."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Protocol, Self, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.config.base import SLUG_PATTERN
from hub.config.models import CAMERA_URL_SCHEMES, Config
from hub.credentials import CredentialBox, CredentialError
from hub.events import CameraAdded, CameraRemoved, CameraUpdated, Event
from hub.store import Database, unbroken
from hub.store.models import CameraRow, OwnerRow, SiteRow

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class CameraSource(StrEnum):
    """Where a registry entry was declared, and so where it may be changed."""

    CONFIG = "config"  # the YAML config: change it there, the registry follows on start
    API = "api"  # the REST API or the `pantau cameras add` command
    IMPORT = "import"  # a CSV inventory import


class RegistryError(Exception):
    """A registry change that cannot be made, in words fit for the person who asked for it."""


class RegistryNotFound(RegistryError):
    """The owner, site or camera asked for does not exist."""


class Change(StrEnum):
    """What saving an entry did."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


# ---------------------------------------------------------------------------------------------
# What callers hand in: validated at the edge, with reasons in plain words.


# The same ids and URL schemes the config accepts, so an entry can move between the two.
_ID = re.compile(SLUG_PATTERN)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"id must be lowercase letters, digits, '-' or '_', got {value!r}")
    return value


def _one_line(value: str) -> str:
    # A name broken over lines in a spreadsheet cell is joined with single spaces.
    value = " ".join(value.split())
    if not value:
        raise ValueError("name is required")
    return value


EntryId = Annotated[str, AfterValidator(_check_id)]
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_one_line)]


def _check_lat(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and -90 <= value <= 90):
        raise ValueError(f"lat must be between -90 and 90, got {_shown(value)}")
    return value


def _check_lon(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and -180 <= value <= 180):
        raise ValueError(f"lon must be between -180 and 180, got {_shown(value)}")
    return value


def _shown(value: float) -> str:
    """191.0 as '191', 191.5 as '191.5': the number as a person typed it."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else str(value)


def explain(error: ValidationError) -> str:
    """A validation error as one line of plain words, never echoing the rejected input."""
    reasons = []
    for item in error.errors(include_input=False, include_url=False):
        cause = item.get("ctx", {}).get("error")
        if item["type"] == "value_error" and cause is not None:
            reasons.append(str(cause))
            continue
        where = ".".join(str(part) for part in item["loc"])
        reasons.append(
            f"{where}: {item['msg'][:1].lower()}{item['msg'][1:]}" if where else item["msg"]
        )
    return "; ".join(reasons)


class OwnerInput(BaseModel):
    """An owner as the API or CLI gives it."""

    model_config = ConfigDict(extra="forbid")

    id: EntryId
    name: Name
    kind: Literal["opd", "private"]
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    retention_days: int | None = Field(None, ge=1, le=3650)
    """Days its clips and stored pictures are kept; None: the hub's `retention_days`."""


class SiteInput(BaseModel):
    """A site as the API or CLI gives it."""

    model_config = ConfigDict(extra="forbid")

    id: EntryId
    name: Name
    owner: EntryId
    address: str | None = None
    lat: float
    lon: float

    _lat = field_validator("lat")(_check_lat)
    _lon = field_validator("lon")(_check_lon)


class CameraInput(BaseModel):
    """A camera as the API, CLI or an import gives it; credentials in the URL are split out."""

    model_config = ConfigDict(extra="forbid")

    id: EntryId
    name: Name
    owner: EntryId
    site: EntryId | None = None
    vendor: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)
    ] = "rtsp"
    url: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: SecretStr | None = None
    lat: float | None = None
    lon: float | None = None
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)

    _lat = field_validator("lat")(_check_lat)
    _lon = field_validator("lon")(_check_lon)

    @field_validator("port")
    @classmethod
    def _port_in_range(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 65535:
            raise ValueError(f"port must be between 1 and 65535, got {value}")
        return value

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))

    @model_validator(mode="after")
    def _split_url_credentials(self) -> Self:
        if self.url is not None:
            self.url, user, password = split_credentials(self.url)
            if user is not None:
                if self.username is not None and self.username != user:
                    raise ValueError("the url names another user than the username given")
                self.username = user
            if password is not None:
                given = self.password.get_secret_value() if self.password else None
                if given is not None and given != password:
                    raise ValueError("the url holds another password than the password given")
                self.password = SecretStr(password)
        if not self.url and not self.host:
            raise ValueError("needs either url or host")
        if self.url and self.host:
            raise ValueError("give url or host, not both")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        return self


def _has_credentials(url: object) -> bool:
    try:
        return isinstance(url, str) and "@" in urlsplit(url).netloc
    except ValueError:
        return False  # validation says what is wrong with it


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`url` without its user and password, and those two, decoded."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if parts.scheme.lower() not in CAMERA_URL_SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in CAMERA_URL_SCHEMES)
        raise ValueError(f"url must start with one of {schemes}")
    if parts.scheme.lower() != "file" and not parts.hostname:
        raise ValueError("url has no host")
    if "@" not in parts.netloc:
        return parts.geturl(), None, None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), user, password


# ---------------------------------------------------------------------------------------------
# What callers get back: plain frozen records, never a password.


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """An owner in the registry."""

    id: str
    name: str
    kind: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    source: CameraSource
    created_at: datetime
    updated_at: datetime
    retention_days: int | None = None
    """Days its clips and stored pictures are kept; None: the hub's default."""

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data: times in ISO 8601, the source as its name."""
        return _json_ready(asdict(self))


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A site in the registry."""

    id: str
    name: str
    owner: str
    address: str | None
    lat: float
    lon: float
    source: CameraSource
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data: times in ISO 8601, the source as its name."""
        return _json_ready(asdict(self))


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """A camera in the registry; `has_password` says whether one is known, never what it is."""

    id: str
    name: str
    owner: str
    site: str | None
    vendor: str
    url: str | None
    host: str | None
    port: int | None
    username: str | None
    has_password: bool
    lat: float | None
    lon: float | None
    tags: tuple[str, ...]
    enabled: bool
    options: Mapping[str, Any]
    source: CameraSource
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data: times in ISO 8601, the source as its name."""
        data = _json_ready(asdict(self))
        data["tags"] = list(self.tags)
        data["options"] = dict(self.options)
        return data


def _json_ready(data: dict[str, Any]) -> dict[str, Any]:
    for name in ("created_at", "updated_at"):
        data[name] = data[name].isoformat()
    data["source"] = data["source"].value
    return data


def _owner_record(row: OwnerRow) -> OwnerRecord:
    return OwnerRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        contact_email=row.contact_email,
        source=CameraSource(row.source),
        created_at=row.created_at,
        updated_at=row.updated_at,
        retention_days=row.retention_days,
    )


def _site_record(row: SiteRow) -> SiteRecord:
    return SiteRecord(
        id=row.id,
        name=row.name,
        owner=row.owner_id,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        source=CameraSource(row.source),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _camera_record(row: CameraRow) -> CameraRecord:
    return CameraRecord(
        id=row.id,
        name=row.name,
        owner=row.owner_id,
        site=row.site_id,
        vendor=row.vendor,
        url=row.url,
        host=row.host,
        port=row.port,
        username=row.username,
        has_password=row.password_encrypted is not None or row.password_in_config,
        lat=row.lat,
        lon=row.lon,
        tags=tuple(row.tags),
        enabled=row.enabled,
        options=dict(row.options),
        source=CameraSource(row.source),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class EventPublisher(Protocol):
    """Anything with the bus's `publish` (hub.bus.LocalBus, the NATS bus)."""

    def publish(self, event: Event, /) -> Awaitable[object]: ...  # noqa: D102


class EntryKey(NamedTuple):
    """Which entry: ('camera', 'cam-1')."""

    kind: Literal["owner", "site", "camera"]
    id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id!r}"


class SyncConflict(NamedTuple):
    """A config entry the registry could not apply, and why."""

    kind: Literal["owner", "site", "camera"]
    id: str
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(slots=True)
class SyncReport:
    """What `sync_from_config` changed, and which config entries it had to leave alone."""

    added: list[EntryKey] = field(default_factory=list)
    updated: list[EntryKey] = field(default_factory=list)
    removed: list[EntryKey] = field(default_factory=list)
    conflicts: list[SyncConflict] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------

OWNER_FIELDS = frozenset(OwnerInput.model_fields) - {"id"}
SITE_FIELDS = frozenset(SiteInput.model_fields) - {"id"}
CAMERA_FIELDS = frozenset(CameraInput.model_fields) - {"id"}
_PUBLIC_NAMES = {
    "owner_id": "owner",
    "site_id": "site",
    "password_encrypted": "password",
    "password_in_config": "password",
}
_PAIRED_FIELDS = (frozenset({"url", "host"}), frozenset({"lat", "lon"}))


def _public_names(columns: Sequence[str]) -> list[str]:
    """Column names as callers know the fields: owner_id is 'owner', and so on."""
    return list(dict.fromkeys(_PUBLIC_NAMES.get(name, name) for name in columns))


def _assign(row: object, values: Mapping[str, Any]) -> list[str]:
    """Set the attributes that differ; the names of those changed."""
    changed = []
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    return changed


def _declared_in_config(kind: str, entry_id: str) -> RegistryError:
    return RegistryError(f"{kind} {entry_id!r} is declared in the config; change it there")


class Registry:
    """Owners, sites and cameras in the store, each remembering where it was declared."""

    def __init__(
        self,
        db: Database,
        credentials: CredentialBox | None,
        bus: EventPublisher | None = None,
    ) -> None:
        self._db = db
        self._credentials = credentials
        self._bus = bus
        # Config passwords stay out of the store; the stream engine asks for them here.
        self._config_passwords: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Registry({self._db!r})"

    # -- owners ---------------------------------------------------------------------------------

    async def list_owners(self) -> list[OwnerRecord]:
        """Every owner, by id."""
        async with self._db.session() as session:
            rows = await session.scalars(select(OwnerRow).order_by(OwnerRow.id))
            return [_owner_record(row) for row in rows]

    async def get_owner(self, owner_id: str) -> OwnerRecord | None:
        """One owner, or None."""
        async with self._db.session() as session:
            row = await session.get(OwnerRow, owner_id)
            return None if row is None else _owner_record(row)

    @unbroken
    async def add_owner(
        self, owner: OwnerInput, source: CameraSource = CameraSource.API
    ) -> OwnerRecord:
        """Add a new owner; RegistryError if the id is taken."""
        async with self._db.session() as session, session.begin():
            if await session.get(OwnerRow, owner.id) is not None:
                raise RegistryError(f"owner {owner.id!r} already exists")
            row = OwnerRow(id=owner.id, source=source.value, **owner.model_dump(exclude={"id"}))
            session.add(row)
            await self._flush_new(session, "owner", owner.id)
        return _owner_record(row)

    @unbroken
    async def update_owner(self, owner_id: str, **changes: Any) -> OwnerRecord:
        """Change an API or import owner's fields."""
        _refuse_unknown_fields("owner", changes, OWNER_FIELDS)
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, OwnerRow, "owner", owner_id)
            current = _owner_record(row).as_dict()
            merged = _validate(
                OwnerInput, {k: current[k] for k in OwnerInput.model_fields}, changes
            )
            _assign(row, merged.model_dump(exclude={"id"}))
        return _owner_record(row)

    @unbroken
    async def remove_owner(self, owner_id: str) -> None:
        """Remove an API or import owner that no site or camera refers to any more."""
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, OwnerRow, "owner", owner_id)
            users = await _owner_users(session, owner_id)
            if users:
                raise RegistryError(f"owner {owner_id!r} still has {users}; remove them first")
            await session.delete(row)

    # -- sites ----------------------------------------------------------------------------------

    async def list_sites(self, owner: str | None = None) -> list[SiteRecord]:
        """Every site, or one owner's, by id."""
        query = select(SiteRow).order_by(SiteRow.id)
        if owner is not None:
            query = query.where(SiteRow.owner_id == owner)
        async with self._db.session() as session:
            return [_site_record(row) for row in await session.scalars(query)]

    async def get_site(self, site_id: str) -> SiteRecord | None:
        """One site, or None."""
        async with self._db.session() as session:
            row = await session.get(SiteRow, site_id)
            return None if row is None else _site_record(row)

    @unbroken
    async def add_site(
        self, site: SiteInput, source: CameraSource = CameraSource.API
    ) -> SiteRecord:
        """Add a new site of a known owner; RegistryError if the id is taken."""
        async with self._db.session() as session, session.begin():
            if await session.get(SiteRow, site.id) is not None:
                raise RegistryError(f"site {site.id!r} already exists")
            await _require(session, OwnerRow, "owner", site.owner)
            values = site.model_dump(exclude={"id", "owner"})
            row = SiteRow(id=site.id, owner_id=site.owner, source=source.value, **values)
            session.add(row)
            await self._flush_new(session, "site", site.id)
        return _site_record(row)

    @unbroken
    async def update_site(self, site_id: str, **changes: Any) -> SiteRecord:
        """Change an API or import site's fields."""
        _refuse_unknown_fields("site", changes, SITE_FIELDS)
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, SiteRow, "site", site_id)
            current = _site_record(row).as_dict()
            merged = _validate(SiteInput, {k: current[k] for k in SiteInput.model_fields}, changes)
            if merged.owner != row.owner_id:
                await _require(session, OwnerRow, "owner", merged.owner)
            values = merged.model_dump(exclude={"id", "owner"}) | {"owner_id": merged.owner}
            _assign(row, values)
        return _site_record(row)

    @unbroken
    async def remove_site(self, site_id: str) -> None:
        """Remove an API or import site that no camera refers to any more."""
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, SiteRow, "site", site_id)
            count = await session.scalar(
                select(func.count()).select_from(CameraRow).where(CameraRow.site_id == site_id)
            )
            if count:
                raise RegistryError(
                    f"site {site_id!r} still has {_plural(count, 'camera')}; remove them first"
                )
            await session.delete(row)

    # -- cameras --------------------------------------------------------------------------------

    async def list_cameras(self, owner: str | None = None) -> list[CameraRecord]:
        """Every camera, or one owner's, by id."""
        query = select(CameraRow).order_by(CameraRow.id)
        if owner is not None:
            query = query.where(CameraRow.owner_id == owner)
        async with self._db.session() as session:
            return [_camera_record(row) for row in await session.scalars(query)]

    async def get_camera(self, camera_id: str) -> CameraRecord | None:
        """One camera, or None."""
        async with self._db.session() as session:
            row = await session.get(CameraRow, camera_id)
            return None if row is None else _camera_record(row)

    @unbroken
    async def add_camera(
        self, camera: CameraInput, source: CameraSource = CameraSource.API
    ) -> CameraRecord:
        """Add a new camera of a known owner (and site); RegistryError if the id is taken."""
        if source is CameraSource.CONFIG:
            raise RegistryError("config cameras come from the config; use sync_from_config")
        async with self._db.session() as session, session.begin():
            existing = await session.get(CameraRow, camera.id)
            if existing is not None:
                raise RegistryError(f"camera {camera.id!r} already exists ({existing.source})")
            row = CameraRow(id=camera.id, source=source.value)
            await self._fill_camera(session, row, camera)
            session.add(row)
            await self._flush_new(session, "camera", camera.id)
        record = _camera_record(row)
        await self._publish(CameraAdded.create(camera_id=record.id, data=record.as_dict()))
        return record

    @unbroken
    async def update_camera(self, camera_id: str, **changes: Any) -> CameraRecord:
        """Change an API or import camera; `password=None` forgets its password."""
        _refuse_unknown_fields("camera", changes, CAMERA_FIELDS)
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, CameraRow, "camera", camera_id)
            current = _camera_record(row).as_dict()
            base = {k: current[k] for k in CameraInput.model_fields if k != "password"}
            if "url" in changes and "username" not in changes and _has_credentials(changes["url"]):
                del base["username"]  # the new url's user replaces the stored one
            for given, other in (("url", "host"), ("host", "url")):
                if given in changes and other not in changes:
                    base[other] = None  # a camera is reached by one or the other
            merged = _validate(CameraInput, base, changes)
            keep_password = "password" not in changes and merged.password is None
            changed = await self._fill_camera(session, row, merged, keep_password=keep_password)
        record = _camera_record(row)
        if changed:
            data = record.as_dict() | {"changed": changed}
            await self._publish(CameraUpdated.create(camera_id=camera_id, data=data))
        return record

    @unbroken
    async def save_camera(
        self,
        camera: CameraInput,
        source: CameraSource,
        *,
        fields: Collection[str] | None = None,
    ) -> Change:
        """Add the camera, or update it if it has this source; fields not in `fields` are kept.

        Imports use it: running the same file twice changes nothing the second time.
        """
        if source is CameraSource.CONFIG:
            raise RegistryError("config cameras come from the config; use sync_from_config")
        async with self._db.session() as session, session.begin():
            row = await session.get(CameraRow, camera.id)
            if row is None:
                row = CameraRow(id=camera.id, source=source.value)
                await self._fill_camera(session, row, camera)
                session.add(row)
                await self._flush_new(session, "camera", camera.id)
                outcome, changed = Change.ADDED, []
            elif row.source != source.value:
                raise _belongs_elsewhere(camera.id, CameraSource(row.source))
            else:
                keep_password = False
                if fields is not None:
                    # Credentials taken from a url count as given even without their own column.
                    given = set(fields) | {
                        name for name in ("username", "password") if getattr(camera, name)
                    }
                    for pair in _PAIRED_FIELDS:  # one of a pair given: the other goes with it
                        if given & pair:
                            given |= pair
                    current = _camera_record(row).as_dict()
                    kept = {k: current[k] for k in CAMERA_FIELDS - given - {"password"}}
                    camera = camera.model_copy(update=kept)
                    keep_password = "password" not in given
                changed = await self._fill_camera(session, row, camera, keep_password=keep_password)
                outcome = Change.UPDATED if changed else Change.UNCHANGED
        record = _camera_record(row)
        if outcome is Change.ADDED:
            await self._publish(CameraAdded.create(camera_id=record.id, data=record.as_dict()))
        elif outcome is Change.UPDATED:
            data = record.as_dict() | {"changed": changed}
            await self._publish(CameraUpdated.create(camera_id=record.id, data=data))
        return outcome

    @unbroken
    async def remove_camera(self, camera_id: str) -> None:
        """Remove an API or import camera."""
        async with self._db.session() as session, session.begin():
            row = await self._editable(session, CameraRow, "camera", camera_id)
            data = {"name": row.name, "owner": row.owner_id, "source": row.source}
            await session.delete(row)
        await self._publish(CameraRemoved.create(camera_id=camera_id, data=data))

    async def camera_password(self, camera_id: str) -> str | None:
        """The camera's password in plain text, for the stream engine; never log it.

        A config camera's password comes from the config last given to `sync_from_config`.
        """
        async with self._db.session() as session:
            row = await session.get(CameraRow, camera_id)
        if row is None:
            raise RegistryNotFound(f"no camera with id {camera_id!r}")
        if row.source == CameraSource.CONFIG:
            return self._config_passwords.get(camera_id)
        if row.password_encrypted is None:
            return None
        if self._credentials is None:
            raise RegistryError(
                f"camera {camera_id!r} has a stored password but no credential key is configured"
            )
        return self._credentials.decrypt(row.password_encrypted)

    @unbroken
    async def rotate_credentials(self) -> int:
        """Re-encrypt every stored password with the newest key; how many were re-encrypted."""
        if self._credentials is None:
            raise RegistryError("no credential key is configured")
        async with self._db.session() as session, session.begin():
            rows = await session.scalars(
                select(CameraRow).where(CameraRow.password_encrypted.is_not(None))
            )
            count = 0
            for row in rows:
                assert row.password_encrypted is not None
                row.password_encrypted = self._credentials.rotate(row.password_encrypted)
                count += 1
        return count

    # -- the config -----------------------------------------------------------------------------

    @unbroken
    async def sync_from_config(self, config: Config) -> SyncReport:
        """Make the registry's config entries match `config`, leaving API and import entries be."""
        report = SyncReport()
        events: list[Event] = []
        async with self._db.session() as session, session.begin():
            await self._sync_owners(session, config, report)
            await self._sync_sites(session, config, report)
            await self._sync_cameras(session, config, report, events)
            await self._drop_stale(session, config, report, events)
        self._config_passwords = _config_passwords(config)
        for conflict in report.conflicts:
            log.warning(
                "config not applied: %s", conflict.reason, extra={conflict.kind: conflict.id}
            )
        for event in events:
            await self._publish(event)
        return report

    async def _sync_owners(self, session: AsyncSession, config: Config, report: SyncReport) -> None:
        for owner in config.owners:
            contact = owner.contact
            values = {
                "name": owner.name,
                "kind": str(owner.kind),
                "contact_name": contact.name if contact else None,
                "contact_phone": contact.phone if contact else None,
                "contact_email": contact.email if contact else None,
                "retention_days": owner.retention_days,
            }
            await self._upsert_config(session, OwnerRow, "owner", owner.id, values, report)

    async def _sync_sites(self, session: AsyncSession, config: Config, report: SyncReport) -> None:
        for site in config.sites:
            if await session.get(OwnerRow, site.owner) is None:
                reason = f"site {site.id!r}: no owner with id {site.owner!r}"
                report.conflicts.append(SyncConflict("site", site.id, reason))
                continue
            values = {
                "name": site.name,
                "owner_id": site.owner,
                "address": site.address,
                "lat": site.lat,
                "lon": site.lon,
            }
            await self._upsert_config(session, SiteRow, "site", site.id, values, report)

    async def _sync_cameras(
        self, session: AsyncSession, config: Config, report: SyncReport, events: list[Event]
    ) -> None:
        for camera in config.cameras:
            missing = await _missing_reference(session, camera.owner, camera.site)
            if missing is not None:
                reason = f"camera {camera.id!r}: {missing}"
                report.conflicts.append(SyncConflict("camera", camera.id, reason))
                continue
            url, user, url_password = (
                split_credentials(camera.url) if camera.url else (None, None, None)
            )
            values = {
                "name": camera.name,
                "owner_id": camera.owner,
                "site_id": camera.site,
                "vendor": camera.vendor,
                "url": url,
                "host": camera.host,
                "port": camera.port,
                "username": camera.username if camera.username is not None else user,
                "password_encrypted": None,
                "password_in_config": camera.password is not None or url_password is not None,
                "lat": camera.lat,
                "lon": camera.lon,
                "tags": list(camera.tags),
                "enabled": camera.enabled,
                "options": dict(camera.options),
            }
            change = await self._upsert_config(
                session, CameraRow, "camera", camera.id, values, report
            )
            if change is None:
                continue
            row = await session.get(CameraRow, camera.id)
            assert row is not None
            await session.flush()
            record = _camera_record(row)
            if change is Change.ADDED:
                events.append(CameraAdded.create(camera_id=record.id, data=record.as_dict()))
            else:
                data = record.as_dict() | {"changed": _public_names(change)}
                events.append(CameraUpdated.create(camera_id=record.id, data=data))

    async def _upsert_config(
        self,
        session: AsyncSession,
        model: type[Any],
        kind: Literal["owner", "site", "camera"],
        entry_id: str,
        values: dict[str, Any],
        report: SyncReport,
    ) -> Change | list[str] | None:
        """Add or update one config entry: ADDED, the changed field names, or None."""
        row = await session.get(model, entry_id)
        if row is None:
            session.add(model(id=entry_id, source=CameraSource.CONFIG.value, **values))
            await session.flush()
            report.added.append(EntryKey(kind, entry_id))
            return Change.ADDED
        if row.source != CameraSource.CONFIG:
            reason = (
                f"{kind} {entry_id!r} in the config is skipped: the id is taken by"
                f" {'an' if kind == 'owner' else 'a'} {kind}"
                f" added through {_source_words(CameraSource(row.source))}"
            )
            report.conflicts.append(SyncConflict(kind, entry_id, reason))
            return None
        changed = _assign(row, values)
        if changed:
            report.updated.append(EntryKey(kind, entry_id))
            return changed
        return None

    async def _drop_stale(
        self, session: AsyncSession, config: Config, report: SyncReport, events: list[Event]
    ) -> None:
        """Delete config entries the config no longer declares: cameras, then sites, then owners."""
        camera_ids = {camera.id for camera in config.cameras}
        rows = await session.scalars(select(CameraRow).where(CameraRow.source == "config"))
        for camera in rows:
            if camera.id not in camera_ids:
                data = {"name": camera.name, "owner": camera.owner_id, "source": camera.source}
                await session.delete(camera)
                report.removed.append(EntryKey("camera", camera.id))
                events.append(CameraRemoved.create(camera_id=camera.id, data=data))
        await session.flush()
        site_ids = {site.id for site in config.sites}
        for site in await session.scalars(select(SiteRow).where(SiteRow.source == "config")):
            if site.id in site_ids:
                continue
            count = await session.scalar(
                select(func.count()).select_from(CameraRow).where(CameraRow.site_id == site.id)
            )
            if count:
                reason = (
                    f"site {site.id!r} was removed from the config but"
                    f" {_plural(count, 'camera')} added elsewhere still use it; kept"
                )
                report.conflicts.append(SyncConflict("site", site.id, reason))
                continue
            await session.delete(site)
            report.removed.append(EntryKey("site", site.id))
        await session.flush()
        owner_ids = {owner.id for owner in config.owners}
        for owner in await session.scalars(select(OwnerRow).where(OwnerRow.source == "config")):
            if owner.id in owner_ids:
                continue
            users = await _owner_users(session, owner.id)
            if users:
                reason = (
                    f"owner {owner.id!r} was removed from the config but still has {users}"
                    " added elsewhere; kept"
                )
                report.conflicts.append(SyncConflict("owner", owner.id, reason))
                continue
            await session.delete(owner)
            report.removed.append(EntryKey("owner", owner.id))

    # -- helpers --------------------------------------------------------------------------------

    async def _fill_camera(
        self,
        session: AsyncSession,
        row: CameraRow,
        camera: CameraInput,
        *,
        keep_password: bool = False,
    ) -> list[str]:
        """Copy a validated camera onto its row; the names of the fields that changed."""
        missing = await _missing_reference(session, camera.owner, camera.site)
        if missing is not None:
            raise RegistryError(missing)
        values = camera.model_dump(exclude={"id", "owner", "site", "password"})
        values |= {"owner_id": camera.owner, "site_id": camera.site}
        changed = _assign(row, values)
        if not keep_password:
            password = camera.password.get_secret_value() if camera.password else None
            if password is None and row.password_encrypted is not None:
                row.password_encrypted = None
                changed.append("password")
            elif password is not None and password != self._stored_password(row):
                row.password_encrypted = self._encrypt(camera.id, password)
                changed.append("password")
        return _public_names(changed)

    def _stored_password(self, row: CameraRow) -> str | None:
        if row.password_encrypted is None or self._credentials is None:
            return None
        try:
            return self._credentials.decrypt(row.password_encrypted)
        except CredentialError:
            return None  # made with a lost key: any new password replaces it

    def _encrypt(self, camera_id: str, password: str) -> str:
        if self._credentials is None:
            raise RegistryError(
                f"cannot store the password of camera {camera_id!r}: no credential key is"
                " configured (set PANTAU_SECRET_KEY or give the hub a data folder)"
            )
        return self._credentials.encrypt(password)

    async def _editable(
        self,
        session: AsyncSession,
        model: type[Any],
        kind: str,
        entry_id: str,
    ) -> Any:
        row = await session.get(model, entry_id)
        if row is None:
            raise RegistryNotFound(f"no {kind} with id {entry_id!r}")
        if row.source == CameraSource.CONFIG:
            raise _declared_in_config(kind, entry_id)
        return row

    @staticmethod
    async def _flush_new(session: AsyncSession, kind: str, entry_id: str) -> None:
        try:
            await session.flush()
        except IntegrityError:
            # Another request added the same id between our check and our insert.
            raise RegistryError(f"{kind} {entry_id!r} already exists") from None

    async def _publish(self, event: Event) -> None:
        if self._bus is not None:
            await self._bus.publish(event)


def _validate(model: type[M], current: dict[str, Any], changes: dict[str, Any]) -> M:
    try:
        return model.model_validate(current | changes)
    except ValidationError as exc:
        raise RegistryError(explain(exc)) from None


def _refuse_unknown_fields(kind: str, changes: Mapping[str, Any], allowed: Collection[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise RegistryError(f"cannot change {kind} field(s) {', '.join(unknown)}")


async def _require(session: AsyncSession, model: type[Any], kind: str, entry_id: str) -> None:
    if await session.get(model, entry_id) is None:
        raise RegistryError(f"no {kind} with id {entry_id!r}")


async def _missing_reference(session: AsyncSession, owner: str, site: str | None) -> str | None:
    if await session.get(OwnerRow, owner) is None:
        return f"no owner with id {owner!r}"
    if site is not None and await session.get(SiteRow, site) is None:
        return f"no site with id {site!r}"
    return None


async def _owner_users(session: AsyncSession, owner_id: str) -> str:
    """What still refers to the owner, in words ('2 cameras and 1 site'), or ''."""
    cameras = await session.scalar(
        select(func.count()).select_from(CameraRow).where(CameraRow.owner_id == owner_id)
    )
    sites = await session.scalar(
        select(func.count()).select_from(SiteRow).where(SiteRow.owner_id == owner_id)
    )
    parts = [_plural(n, what) for n, what in ((cameras, "camera"), (sites, "site")) if n]
    return " and ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _source_words(source: CameraSource) -> str:
    return {"config": "the config", "api": "the API", "import": "an import"}[source.value]


def _belongs_elsewhere(camera_id: str, source: CameraSource) -> RegistryError:
    if source is CameraSource.CONFIG:
        return RegistryError(f"camera {camera_id!r} is declared in the config")
    return RegistryError(f"camera {camera_id!r} was added through {_source_words(source)}")


def _config_passwords(config: Config) -> dict[str, str]:
    passwords = {}
    for camera in config.cameras:
        if camera.password is not None:
            passwords[camera.id] = camera.password.get_secret_value()
        elif camera.url:
            password = split_credentials(camera.url)[2]
            if password is not None:
                passwords[camera.id] = password
    return passwords
