"""The shape of a Pantau configuration: pydantic models for every section, and their checks."""

from __future__ import annotations

import inspect
import re
import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hub.config.base import (
    CONFIG_DIR,
    SKIP_REFERENCES,
    Lat,
    Lon,
    Port,
    ReferenceProblem,
    Section,
    Slug,
    check_references,
)
from hub.config.errors import Loc, describe_value
from hub.incidents.routing import (
    EscalationPolicy,
    IncidentOptions,
    IncidentSettings,
    Responder,
    Silence,
    incident_reference_problems,
)
from hub.incidents.rules import Rule
from hub.sharing import Level

CAMERA_URL_SCHEMES = ("rtsp", "rtsps", "http", "https", "file", "sim")


def _plugin_options(value: Any) -> Any:
    if value is None:  # `rtsp:` with nothing under it: the plugin with its defaults
        return {}
    return value


def _check_enabled(options: dict[str, Any]) -> dict[str, Any]:
    if "enabled" in options and not isinstance(options["enabled"], bool):
        raise PydanticCustomError(
            "bool_type", "must be true or false", {"field": "enabled", "value": options["enabled"]}
        )
    return options


PluginOptions = Annotated[
    dict[str, Any], BeforeValidator(_plugin_options), AfterValidator(_check_enabled)
]
"""Free options of one plugin; `enabled: false` turns the plugin off."""


class WebSettings(Section):
    """Where the web interface and API listen."""

    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 for every one.")
    port: Port = Field(8123, description="TCP port, 1 to 65535.")
    public_url: str | None = Field(
        None,
        description="Where responders reach the hub (https://pantau.example.go.id), for the "
        "acknowledge links in alerts; default: http://host:port.",
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError(
                "public_url", "must be an http:// or https:// URL with a host"
            )
        return value.strip().rstrip("/")

    def base_url(self) -> str:
        """The public URL, or the address the hub listens on (loopback for 0.0.0.0 and ::)."""
        if self.public_url:
            return self.public_url
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
        host = wildcard.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


class StreamSettings(Section):
    """The stream engine: how often it pays for pixels, and how much it keeps."""

    enabled: bool = Field(True, description="Watch the cameras' streams (off: registry only).")
    keyframe_interval: float = Field(
        10.0,
        gt=0,
        description="T2: decode a keyframe for snapshots and checks at most this often (s).",
    )
    stats_interval: float = Field(
        10.0, gt=0, description="Seconds over which stream.stats and health are judged."
    )
    pre_roll: float = Field(10.0, ge=0, description="Seconds of packets kept for clips.")
    ring: Literal["disk", "memory"] = Field(
        "disk",
        description="Where the pre-roll is kept: disk (files under data_dir/ring) or memory.",
    )
    snapshot_width: int = Field(640, ge=64, description="Width of cached snapshots (pixels).")
    motion_fps: float = Field(5.0, gt=0, description="T3: pictures analysed per second.")
    motion_width: int = Field(320, ge=64, description="T3: width of the analysed grey picture.")
    activity_lease: float = Field(
        5.0, ge=0, description="T3: seconds pixels stay decoded after activity ends."
    )
    motion_lease: float = Field(
        2.0, ge=0, description="T3: seconds pixels stay decoded after pixel motion ends."
    )
    motion_hold: float = Field(
        20.0,
        ge=0,
        description="T3: at most this many seconds that one pixel motion episode keeps pixels"
        " decoded on its own, from its start (0: as long as it lasts, an hour at most).",
    )
    t3_dismiss: float = Field(
        4.0,
        ge=0,
        description="T3: seconds without pixel motion after which T3 gives back the activity"
        " that asked for it (0: never).",
    )
    decode_threads: int = Field(2, ge=1, description="Threads that decode pictures (T2, T3).")
    live_fps: float = Field(
        5.0, gt=0, le=25, description="Live view: pictures a second sent to each viewer."
    )
    live_width: int = Field(960, ge=64, description="Live view: width of the pictures (pixels).")
    live_session: float = Field(
        1800.0, gt=0, description="Live view: seconds one view lasts before the page reconnects."
    )


class SharingSettings(Section):
    """What an owner shares while no sharing agreement of its own is in force."""

    default_opd: Level = Field(
        Level.LIVE, description="Default of the city's own agencies (OPD): registry to live."
    )
    default_private: Level = Field(
        Level.REGISTRY,
        description="Default of private owners: registry (nothing until they sign) to live.",
    )


class HubSettings(Section):
    """Settings of the hub itself."""

    name: str = Field("Pantau", description="Shown in the dashboard title and in alerts.")
    timezone: str = Field("Asia/Jakarta", description="IANA time zone, such as Asia/Makassar.")
    language: Literal["id", "en"] = Field(
        "id", description="Language of alerts: id (Bahasa Indonesia) or en (English)."
    )
    web: WebSettings = Field(default_factory=WebSettings)
    data_dir: Path = Field(
        Path("var"), description="Folder for the database, snapshots and clips (relative: to cwd)."
    )
    database_url: SecretStr | None = Field(
        None, description="sqlite:// or postgresql:// URL; default: SQLite in data_dir."
    )
    plugin_dir: Path | None = Field(
        None, description="Folder of user plugins (relative: to the configuration file)."
    )
    safe_mode: bool = Field(False, description="Load built-in plugins only.")
    plugin_setup_timeout: float = Field(
        30.0, gt=0, description="Seconds a plugin may take to set up."
    )
    shutdown_timeout: float = Field(5.0, ge=0, description="Seconds to wait for tasks at shutdown.")
    streams: StreamSettings = Field(default_factory=StreamSettings)
    sharing: SharingSettings = Field(default_factory=SharingSettings)
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days clips and stored pictures are kept, unless an owner or camera says.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise PydanticCustomError("unknown_time_zone", "unknown time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        scheme, found, rest = url.partition("://")
        driver = _DATABASE_DRIVERS.get(scheme.lower()) if found else None
        if driver is None:
            shown = f"scheme '{scheme}'" if found and len(scheme) <= 30 else "no scheme"
            raise PydanticCustomError(
                "database_scheme", f"must be a sqlite:// or postgresql:// URL, got {shown}"
            )
        return SecretStr(f"{driver}://{rest}")

    @field_validator("plugin_dir")
    @classmethod
    def _beside_config_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get(CONFIG_DIR)
        if value is None or base is None:
            return value
        return (Path(base) / value.expanduser()).resolve()

    def database_url_value(self) -> str:
        """The real database URL, with the async driver SQLAlchemy needs."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.data_dir}/pantau.db"
        return self.database_url.get_secret_value()


_DATABASE_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class Contact(Section):
    """Who to call about an owner's cameras."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None


class Owner(Section):
    """A camera owner: a government office (OPD) or a private business."""

    id: Slug
    name: str
    kind: Literal["opd", "private"] = Field(description="opd (government office) or private.")
    contact: Contact | None = None
    retention_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days this owner's clips and stored pictures are kept (default: the hub's).",
    )


class Site(Section):
    """A place with cameras: a square, an intersection, a landfill, a mall."""

    id: Slug
    name: str
    owner: str = Field(description="Id of the owner responsible for the site.")
    address: str | None = None
    lat: Lat
    lon: Lon


class CameraConfig(Section):
    """One camera, reached by `url` or by `host` and `port`; credentials never leave it."""

    id: Slug
    name: str
    owner: str = Field(description="Id of the owner of the camera.")
    site: str | None = Field(None, description="Id of the site the camera stands at.")
    vendor: str = Field("rtsp", description="Name of the vendor plugin that talks to the camera.")
    url: str | None = Field(
        None, description="Stream URL; credentials in it move to username/password."
    )
    host: str | None = None
    port: Port | None = None
    username: str | None = None
    password: SecretStr | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict, description="Vendor-specific options.")

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        try:
            parts = urlsplit(data["url"])
        except ValueError:
            return data  # the url check below says what is wrong with it
        if "@" not in parts.netloc:
            return data
        if data.get("username") is not None or data.get("password") is not None:
            raise PydanticCustomError(
                "credentials_twice",
                "credentials given twice: in url and as username/password",
                {"field": "url"},
            )
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user, has_password, password = userinfo.partition(":")
        moved = {**data, "url": parts._replace(netloc=hostinfo).geturl(), "username": unquote(user)}
        if has_password:
            moved["password"] = unquote(password)
        return moved

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a port that is not a number
        except ValueError:
            raise PydanticCustomError("bad_url", "is not a valid URL") from None
        if parts.scheme.lower() not in CAMERA_URL_SCHEMES:
            schemes = ", ".join(f"{scheme}://" for scheme in CAMERA_URL_SCHEMES)
            raise PydanticCustomError("url_scheme", f"must start with one of {schemes}")
        if parts.scheme.lower() != "file" and not parts.hostname:
            raise PydanticCustomError("bad_url", "has no host")
        return value

    @model_validator(mode="after")
    def _url_or_host(self) -> CameraConfig:
        if self.url is None and self.host is None:
            raise PydanticCustomError("url_or_host", "needs either url or host")
        if self.url is not None and self.host is not None:
            raise PydanticCustomError("url_or_host", "give url or host, not both")
        return self


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_data_size(value: Any) -> int:
    """Bytes from a size with its unit: `50 GB` (10^9 bytes each, as `pantau cameras usage`)."""
    found = _SIZE.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        # a bare number is refused: `monthly: 50` would be 50 bytes, not the 50 GB meant
        raise PydanticCustomError(
            "data_size",
            f"must be a size with its unit, such as 50 GB or 500 MiB, got {describe_value(value)}",
        )
    size = float(found[1]) * _SIZE_UNITS[found[2].lower()]
    if not 1 <= size < 2**63:  # what the usage ledger's BIGINT holds
        raise PydanticCustomError("data_size", "must be from 1 B to 9 EB")
    return int(size)


DataSize = Annotated[
    int,
    BeforeValidator(parse_data_size),
    WithJsonSchema({"type": "string", "examples": ["50 GB", "500 MiB"]}),
]
"""Bytes, written with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (1024)."""


def _parse_share(value: Any) -> float:
    text = value.strip() if isinstance(value, str) else None
    share: Any = value
    if text is not None and text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            share = None
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise PydanticCustomError(
            "share", f"must be a share below 100%, such as 80% or 0.8, got {describe_value(value)}"
        )
    return float(share)


Share = Annotated[
    float,
    BeforeValidator(_parse_share),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "examples": ["80%"]}]}),
]
"""A share between 0 and 1, written as 0.8 or as 80%."""


def _plain_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PydanticCustomError(
            "date", f"must be a date such as 2026-11-05, got {describe_value(value)}"
        ) from None


def _not_true_or_false(value: Any) -> Any:
    # YAML reads `yes` as true; a day of `true` is a mistake, not the 1st
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "must be a number")
    return value


class DataPackage(Section):
    """A SIM card's data package: what each camera it covers may use per day and per month.

    The allowance is each camera's own (one SIM card per camera); a camera covered by several
    packages is held to every one of them. Days and months follow `hub.timezone`.
    """

    id: Slug
    cameras: list[str] = Field(default_factory=list, description="Camera ids.")
    tags: list[str] = Field(default_factory=list, description="Cameras with one of these tags.")
    owners: list[str] = Field(default_factory=list, description="Cameras of these owners.")
    daily: DataSize | None = Field(None, description="Allowance per local day, such as 2 GB.")
    monthly: DataSize | None = Field(
        None, description="Allowance per package month, such as 50 GB."
    )
    period: Literal["month", "30d"] = Field(
        "month",
        description="The package month: month (calendar months from renews_on) or 30d "
        "(30 days at a time from bought_on, as prepaid packages run).",
    )
    renews_on: Annotated[int, BeforeValidator(_not_true_or_false)] = Field(
        1, ge=1, le=31, description="period month: day of the month it starts (31: the last)."
    )
    bought_on: Annotated[date | None, BeforeValidator(_plain_date)] = Field(
        None, description="period 30d: a day the package was bought or renewed."
    )
    warn_at: Share | None = Field(
        None, description="Also raise usage.warning at this share of an allowance, such as 80%."
    )

    @model_validator(mode="after")
    def _complete(self) -> DataPackage:
        if not (self.cameras or self.tags or self.owners):
            raise PydanticCustomError(
                "package_cameras", "must say which cameras it covers: cameras, tags or owners"
            )
        if self.daily is None and self.monthly is None:
            raise PydanticCustomError(
                "package_allowance", "needs a daily or a monthly allowance, such as monthly: 50 GB"
            )
        if self.period == "30d" and self.bought_on is None:
            raise PydanticCustomError(
                "package_period",
                "is required with period 30d: a day the package was bought, such as 2026-11-05",
                {"field": "bought_on"},
            )
        if self.period == "month" and self.bought_on is not None:
            raise PydanticCustomError(
                "package_period", "is only used with period 30d", {"field": "bought_on"}
            )
        if self.period == "30d" and "renews_on" in self.model_fields_set:
            raise PydanticCustomError(
                "package_period", "is only used with period month", {"field": "renews_on"}
            )
        return self


class Config(Section):
    """A whole Pantau configuration."""

    model_config = ConfigDict(
        extra="forbid", hide_input_in_errors=True, title="Pantau configuration"
    )

    hub: HubSettings = Field(default_factory=HubSettings)
    owners: list[Owner] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    data_packages: list[DataPackage] = Field(
        default_factory=list, description="SIM data packages: usage.exceeded when one is used up."
    )
    responders: list[Responder] = Field(
        default_factory=list, description="Who is alerted (Damkar, Satpol PP, PSC 119, ...)."
    )
    escalation_policies: list[EscalationPolicy] = Field(
        default_factory=list, description="Who is alerted next when nobody acknowledges."
    )
    rules: list[Rule] = Field(
        default_factory=list, description="Which events become incidents, and who is told."
    )
    silences: list[Silence] = Field(
        default_factory=list, description="Maintenance windows: incidents recorded, not sent."
    )
    incidents: IncidentOptions = Field(default_factory=IncidentOptions)
    plugins: dict[str, PluginOptions] = Field(
        default_factory=dict, description="Options per plugin name; enabled: false turns one off."
    )

    def incident_settings(self) -> IncidentSettings:
        """Rules, responders, policies and silences as the incident engine takes them."""
        return IncidentSettings.model_validate(
            {
                "rules": self.rules,
                "responders": self.responders,
                "escalation_policies": self.escalation_policies,
                "silences": self.silences,
                "group_window": self.incidents.group_window,
                "inhibit_while_offline": self.incidents.inhibit_while_offline,
            },
            context={SKIP_REFERENCES: True},  # checked with the whole config already
        )

    # Values read through `!secret`, wherever they ended up, for the log redactor.
    _tagged_secrets: set[str] = PrivateAttr(default_factory=set)

    @model_validator(mode="after")
    def _references_hold(self, info: ValidationInfo) -> Config:
        check_references(info, self.model_dump(), reference_problems)
        return self


_ID_SECTIONS = ("owners", "sites", "cameras", "data_packages")
"""Sections whose ids must be unique; incidents' sections are checked by their own module."""
# (section, field, section the field refers to, singular name of what it refers to)
_REFERENCES = (
    ("sites", "owner", "owners", "owner"),
    ("cameras", "owner", "owners", "owner"),
    ("cameras", "site", "sites", "site"),
    ("rules", "cameras", "cameras", "camera"),
    ("data_packages", "cameras", "cameras", "camera"),
    ("data_packages", "owners", "owners", "owner"),
)


def reference_problems(data: Mapping[Any, Any]) -> list[ReferenceProblem]:
    """Duplicate ids and dangling references, found in raw data of any shape."""
    problems: list[ReferenceProblem] = []
    ids: dict[str, dict[str, Loc] | None] = {}
    for section in _ID_SECTIONS:
        items = [] if data.get(section) is None else data[section]
        if not isinstance(items, list):
            ids[section] = None  # a broken section: do not report everything that refers to it
            continue
        seen: dict[str, Loc] = {}
        for index, item in _items(items):
            ident = item.get("id")
            if not isinstance(ident, str):
                continue
            loc: Loc = (section, index, "id")
            if ident in seen:
                problems.append(ReferenceProblem(loc, f"duplicate id '{ident}'", seen[ident]))
            else:
                seen[ident] = loc
        ids[section] = seen
    for section, field, target, noun in _REFERENCES:
        known = ids.get(target)
        items = data.get(section)
        if known is None or not isinstance(items, list):
            continue
        for index, item in _items(items):
            value = item.get(field)
            named = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for position, ident in named:
                if isinstance(ident, str) and ident not in known:
                    loc = (section, index, field)
                    loc = loc if position is None else (*loc, position)
                    problems.append(ReferenceProblem(loc, f"no {noun} with id '{ident}'"))
    problems.extend(incident_reference_problems(data))
    return problems


def _items(items: list[Any]) -> list[tuple[int, Mapping[Any, Any]]]:
    return [(index, item) for index, item in enumerate(items) if isinstance(item, Mapping)]


def field_names_at(loc: Loc) -> list[str]:
    """The field names allowed in the mapping at `loc`, for "did you mean" hints."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def secret_values(config: Config) -> set[str]:
    """Every secret string in a configuration, so that the log redactor can scrub them."""
    values = set(config._tagged_secrets)
    values.update(
        camera.password.get_secret_value() for camera in config.cameras if camera.password
    )
    values.update(
        channel.url.get_secret_value()
        for responder in config.responders
        for channel in responder.channels
    )
    if config.hub.database_url is not None:
        password = urlsplit(config.hub.database_url.get_secret_value()).password
        if password:
            values.update({password, unquote(password)})
    values.discard("")
    return values


def default_config() -> Config:
    """The embedded defaults: one hub on this machine, SQLite under var/, no cameras."""
    return Config()


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of a configuration file, for editors (yaml-language-server and such)."""
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
