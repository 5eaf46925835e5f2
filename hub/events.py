"""Typed, immutable events: everything that happens in Pantau travels as one of these."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class Context(BaseModel):
    """Traces cause to effect: an event caused by another carries its id as `parent_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=_new_id)
    parent_id: str | None = None
    user_id: str | None = None

    def child(self, user_id: str | None = None) -> Context:
        """A new context for an event caused by the one holding this context."""
        return Context(parent_id=self.id, user_id=user_id if user_id is not None else self.user_id)


class Event(BaseModel):
    """Base of every event; subclasses fix `type`, plugins may publish plain `Event`s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: ClassVar[dict[str, type[Event]]] = {}
    event_type: ClassVar[str | None] = None

    type: str
    camera_id: str | None = None
    time: datetime = Field(default_factory=_now)
    context: Context = Field(default_factory=Context)
    data: Mapping[str, Any] = Field(default_factory=dict)

    @field_validator("data", mode="after")
    @classmethod
    def _read_only(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        # Every subscriber shares one event object: none may change what the others see.
        return MappingProxyType(dict(value))

    @field_serializer("data")
    def _plain(self, value: Mapping[str, Any]) -> dict[str, Any]:
        return dict(value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("event_type")
        if name is None:
            return
        if name in Event.registry and Event.registry[name] is not cls:
            raise TypeError(f"event type {name!r} is already defined by {Event.registry[name]}")
        Event.registry[name] = cls

    @classmethod
    def create(cls, **fields: Any) -> Event:
        """Build an event of this class, filling in `type` from the class."""
        if cls.event_type is None:
            return cls(**fields)
        return cls(type=cls.event_type, **fields)

    @classmethod
    def parse_wire(cls, payload: dict[str, Any]) -> Event:
        """Rebuild an event received from another node, as its registered class when known."""
        target = Event.registry.get(str(payload.get("type")), Event)
        return target.model_validate(payload)

    def caused(self, event_class: builtins.type[Event], **fields: Any) -> Event:
        """An event of `event_class` whose context points back to this one."""
        fields.setdefault("context", self.context.child())
        fields.setdefault("camera_id", self.camera_id)
        return event_class.create(**fields)


class CameraOnline(Event):
    """A camera's stream is flowing."""

    event_type = "camera.online"


class CameraOffline(Event):
    """A camera stopped delivering; `data.reason` says why when known."""

    event_type = "camera.offline"


class CameraDegraded(Event):
    """A camera delivers, but badly (low fps, no keyframes, broken timestamps)."""

    event_type = "camera.degraded"


class StreamStats(Event):
    """A camera's stream over the last window: fps, bitrate, GOP, resolution, codec, problems."""

    event_type = "stream.stats"


class ActivityStart(Event):
    """Predicted frames grew: something moves (a compressed-domain signal, no pixels decoded)."""

    event_type = "activity.start"


class ActivityEnd(Event):
    """The camera's scene is quiet again."""

    event_type = "activity.end"


class MotionStart(Event):
    """Pixel motion in a zone; `data.zone`, `data.box` (x0, y0, x1, y1 as shares of the picture)."""

    event_type = "motion.start"


class MotionEnd(Event):
    """Pixel motion in a zone ended."""

    event_type = "motion.end"


class Tamper(Event):
    """The picture is frozen, black, covered or moved; `data.kind` and `data.state` (start, end)."""

    event_type = "tamper"


class UsageExceeded(Event):
    """A camera used up a data package's allowance; `data.package`, `data.period` (day, month)."""

    event_type = "usage.exceeded"


class UsageWarning(Event):
    """A camera used the share of an allowance its package warns at (`warn_at`)."""

    event_type = "usage.warning"


class LineCrossing(Event):
    """A device saw an object cross a line; the vendor event fields (see `hub.devices`)."""

    event_type = "line_crossing"


class Intrusion(Event):
    """A device saw an object in (`detail` field) or entering/leaving (`region`) an area."""

    event_type = "intrusion"


class VideoLoss(Event):
    """A device (an NVR's channel, most often) lost its video input."""

    event_type = "video_loss"


class IoInput(Event):
    """A device's alarm input changed; `data.detail` is the input's id."""

    event_type = "io_input"


class PlateRead(Event):
    """A device read a vehicle's number plate (ANPR); `data.detail` is the plate."""

    event_type = "plate"


class DeviceEvent(Event):
    """A device event no parser knows yet, delivered as it came (`data.raw_topic`, `data.raw`)."""

    event_type = "device.event"


class CameraAdded(Event):
    """A camera joined the registry."""

    event_type = "camera.added"


class CameraUpdated(Event):
    """A camera's registry entry changed."""

    event_type = "camera.updated"


class CameraRemoved(Event):
    """A camera left the registry."""

    event_type = "camera.removed"


class SiteAdded(Event):
    """A site joined the registry through the API; `data` is the site, `data.by` who added it."""

    event_type = "site.added"


class SiteUpdated(Event):
    """A site's registry entry changed through the API; `data.changed` names the fields."""

    event_type = "site.updated"


class SiteRemoved(Event):
    """A site left the registry through the API."""

    event_type = "site.removed"


class SharingChanged(Event):
    """An owner's sharing agreement was made, changed, revoked or ran out.

    `data.owner_id`, `data.agreement_id`, `data.change` (`made`, `changed`, `revoked`,
    `expired`); `camera_id` when the agreement covers one camera, None for the whole owner.
    Whoever hands out pictures over time (live views) asks the policy again at once.
    """

    event_type = "sharing.changed"


class MaskLiftRequested(Event):
    """Someone asked to lift a camera's privacy masks; `data.lift_id`, `reason`, `minutes`, `by`.

    A second person (an admin) must approve it before anything is shown unmasked.
    """

    event_type = "mask.lift_requested"


class MaskLifted(Event):
    """A camera's privacy masks are lifted: its pictures go out unmasked until `data.until`.

    `data.lift_id`, `requested_by`, `approved_by` say which lift and whose.
    """

    event_type = "mask.lifted"


class MaskRestored(Event):
    """A camera's privacy masks are burned in again: `data.lift_id`, `why` (`expired`)."""

    event_type = "mask.restored"


class PluginFailed(Event):
    """A plugin failed to load or set up; `data.plugin` and `data.reason` say which and why."""

    event_type = "plugin.failed"


class HubStarted(Event):
    """The hub finished starting and serves its API."""

    event_type = "hub.started"


class HubStopping(Event):
    """The hub is shutting down."""

    event_type = "hub.stopping"


def _by_type(*classes: builtins.type[Event]) -> Mapping[str, builtins.type[Event]]:
    return MappingProxyType({str(cls.event_type): cls for cls in classes})


DEVICE_EVENTS = _by_type(
    MotionStart, MotionEnd, LineCrossing, Intrusion, Tamper, VideoLoss, IoInput, PlateRead
)
"""The events a device reports, by type: what vendor plugins publish (`hub.devices.bus_event`)
and what other systems may send in (`hub.ingest`). A device's event kind is its event's type,
but for motion (a start or an end) and raw topics (`DeviceEvent`)."""
