"""Who is told: responders and their channels, on-duty schedules, escalation, silences.

Responders are the people and agencies alerted (Damkar, Polres, BPBD, PSC 119, Satpol PP,
Dishub, an operator on shift). `Roster.route` picks those an incident concerns; the lifecycle
decides when; the outbox sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hub.config.base import ReferenceProblem, Section, Slug, check_references
from hub.incidents.rules import (
    Duration,
    EventPattern,
    Rule,
    Template,
    TimeWindows,
    in_any_window,
)

DEFAULT_GROUP_WINDOW = 300.0
DEFAULT_ACK_LINK_VALID = 86400.0
DEFAULT_INHIBITED = ["motion.*", "activity.*", "tamper", "video_loss"]
"""Event types a camera that is offline does not raise incidents for."""


# -- responders -----------------------------------------------------------------------------------


class Channel(Section):
    """One way to reach a responder: an Apprise URL, tried in `priority` order (0 first)."""

    url: SecretStr = Field(description="Apprise URL such as tgram://bottoken/ChatID; a secret.")
    priority: int = Field(0, ge=0, description="0 first; a higher one only when lower ones fail.")

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, value: SecretStr) -> SecretStr:
        scheme, found, rest = value.get_secret_value().partition("://")
        if not found or not scheme or not rest or not scheme.replace("+", "").isalnum():
            # never quote it: the URL holds a token
            raise PydanticCustomError(
                "apprise_url", "must be an Apprise URL such as tgram://bottoken/ChatID"
            )
        return value


def _channels_in_order(value: Any) -> Any:
    # a plain URL is a channel whose priority is its place in the list
    if not isinstance(value, list):
        return value
    return [
        {"url": item, "priority": index} if isinstance(item, str | SecretStr) else item
        for index, item in enumerate(value)
    ]


class Responder(Section):
    """A person or an agency alerted about incidents, through one or more channels."""

    id: Slug
    name: str
    kind: Literal["person", "group"] = Field(
        "group", description="person (an operator), or group (an agency such as Damkar)."
    )
    channels: Annotated[list[Channel], BeforeValidator(_channels_in_order)] = Field(
        min_length=1,
        description="Apprise URLs (a list, tried in order) or {url, priority}; secrets.",
    )
    areas: list[str] = Field(default_factory=list, description="Site ids this responder covers.")
    owners: list[str] = Field(default_factory=list, description="Owner ids it covers.")
    kinds: list[str] = Field(
        default_factory=list,
        description="Rule ids, rule kinds (camera_offline) or event types (motion.*) it covers.",
    )
    on_duty: TimeWindows = Field(
        default_factory=list, description="Weekly on-duty windows; empty: always."
    )

    def covers(self, incident: Routable) -> bool:
        """Whether the incident falls in this responder's areas, owners and kinds (all given)."""
        if not (self.areas or self.owners or self.kinds):
            return False  # covers nothing by itself: only alerted when named
        return (
            (not self.areas or incident.site in self.areas)
            and (not self.owners or incident.owner in self.owners)
            and (
                not self.kinds
                or any(
                    kind in (incident.rule_id, incident.kind)
                    or fnmatchcase(incident.event_type, kind)
                    for kind in self.kinds
                )
            )
        )

    def is_on_duty(self, now: datetime, tz: tzinfo) -> bool:
        """Whether `now` falls in one of the on-duty windows (or there are none)."""
        return in_any_window(self.on_duty, now, tz)

    def channels_by_priority(self) -> list[Channel]:
        """The channels, first to try first."""
        return sorted(self.channels, key=lambda channel: channel.priority)


class Routable(Protocol):
    """What routing needs to know about an incident."""

    @property
    def rule_id(self) -> str:
        """Id of the rule that raised it."""

    @property
    def kind(self) -> str:
        """The rule's kind: event, camera_offline, ..."""

    @property
    def event_type(self) -> str:
        """Type of the event that raised it."""

    @property
    def site(self) -> str | None:
        """Site id of its camera."""

    @property
    def owner(self) -> str | None:
        """Owner id of its camera."""

    @property
    def rule_responders(self) -> tuple[str, ...]:
        """Responders the rule names."""


class Roster:
    """The responders of a configuration, and who an incident goes to at a given moment."""

    def __init__(self, responders: Iterable[Responder], tz: tzinfo) -> None:
        self._responders = {responder.id: responder for responder in responders}
        self._tz = tz

    def __contains__(self, responder_id: object) -> bool:
        return responder_id in self._responders

    def get(self, responder_id: str) -> Responder | None:
        """The responder with this id, if there is one."""
        return self._responders.get(responder_id)

    def route(self, incident: Routable, now: datetime) -> list[str]:
        """The rule's own responders, then those covering the incident and on duty now."""
        chosen = list(dict.fromkeys(incident.rule_responders))
        for responder in self._responders.values():
            if (
                responder.id not in chosen
                and responder.covers(incident)
                and responder.is_on_duty(now, self._tz)
            ):
                chosen.append(responder.id)
        return chosen

    def channels(self, responder_id: str) -> list[Channel]:
        """A responder's channels, first to try first; none for an unknown id."""
        responder = self._responders.get(responder_id)
        return [] if responder is None else responder.channels_by_priority()


# -- escalation -----------------------------------------------------------------------------------


class EscalationStep(Section):
    """Who is alerted next when nobody acknowledged for `after` since the previous alert."""

    after: Duration = Field(description="Time since the previous alert, such as 5m.")
    responders: list[str] = Field(min_length=1, description="Responder ids to alert.")

    @field_validator("after")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise PydanticCustomError("duration", "must be longer than 0 s")
        return value


class EscalationPolicy(Section):
    """Steps taken one after the other until someone acknowledges, then `repeat` times again."""

    id: Slug
    name: str | None = None
    steps: list[EscalationStep] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=100, description="Times to run the steps again after the last.")


# -- silences -------------------------------------------------------------------------------------


class Silence(Section):
    """A maintenance window: matching incidents are recorded but nobody is alerted."""

    id: Slug
    starts: datetime = Field(description="Start; without a zone, in the hub's time zone.")
    ends: datetime = Field(description="End, after the start.")
    cameras: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    comment: str | None = None
    created_by: str | None = None

    @field_validator("ends")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts")
        if isinstance(starts, datetime) and not _before(starts, value):
            raise PydanticCustomError("silence_ends", "must be after starts")
        return value

    @model_validator(mode="after")
    def _names_something(self) -> Silence:
        if not (self.cameras or self.sites or self.owners or self.rules):
            raise PydanticCustomError(
                "silence_scope",
                "name at least one of cameras, sites, owners or rules: a silence of everything "
                "would hide every incident",
            )
        return self

    def is_active(self, now: datetime, tz: tzinfo) -> bool:
        """Whether `now` falls between starts (included) and ends (excluded)."""
        return _aware(self.starts, tz) <= now < _aware(self.ends, tz)

    def matches(
        self, *, camera_id: str | None, site: str | None, owner: str | None, rule_id: str
    ) -> bool:
        """Whether an incident of this camera, site, owner and rule falls under the silence."""
        return (
            (not self.cameras or camera_id in self.cameras)
            and (not self.sites or site in self.sites)
            and (not self.owners or owner in self.owners)
            and (not self.rules or rule_id in self.rules)
        )


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _before(first: datetime, second: datetime) -> bool:
    if (first.tzinfo is None) != (second.tzinfo is None):
        # one zoned, one in the hub's zone (unknown here): compare the clocks as written
        return first.replace(tzinfo=None) < second.replace(tzinfo=None)
    return first < second


# -- the whole incidents configuration ------------------------------------------------------------


class IncidentOptions(Section):
    """How incidents are grouped and which events an offline camera does not raise."""

    group_window: Duration = Field(
        DEFAULT_GROUP_WINDOW,
        description="Incidents at one site within this period form a group; only the first "
        "alerts at once, the others follow in one summary.",
    )
    inhibit_while_offline: list[EventPattern] = Field(
        default_factory=lambda: list(DEFAULT_INHIBITED),
        description="Event types that raise no incident while their camera is offline.",
    )
    alert_title: Template | None = Field(
        None,
        description="Layout of every alert's title: {severity}, {title}, {place}, {since}...; "
        "default [{severity}] {title}.",
    )
    alert_body: Template | None = Field(
        None,
        description="Layout of every alert's body: {message}, {place}, {since}, {count}, "
        "{note}...; empty lines are left out. Default: message, place, since, in hub.language.",
    )
    ack_link_valid: Duration = Field(
        DEFAULT_ACK_LINK_VALID,
        gt=0,
        description="How long the acknowledge link in an alert works (e.g. 24h); responders "
        "reach it at hub.web.public_url.",
    )


class IncidentSettings(IncidentOptions):
    """Rules, responders, escalation policies and silences, and how incidents are grouped."""

    rules: list[Rule] = Field(default_factory=list)
    responders: list[Responder] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    silences: list[Silence] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_hold(self, info: ValidationInfo) -> IncidentSettings:
        check_references(info, self.model_dump(), incident_reference_problems)
        return self


# (section, field, section the field refers to, singular name of what it refers to)
_REFERENCES: tuple[tuple[tuple[str | int, ...], str, str], ...] = (
    (("rules", "responders"), "responders", "responder"),
    (("rules", "escalation"), "escalation_policies", "escalation policy"),
    (("escalation_policies", "steps", "responders"), "responders", "responder"),
    (("silences", "rules"), "rules", "rule"),
)
_ID_SECTIONS = ("rules", "responders", "escalation_policies", "silences")


def incident_reference_problems(data: Mapping[Any, Any]) -> list[ReferenceProblem]:
    """Duplicate ids and names of responders, policies or rules that do not exist.

    Works on raw configuration data of any shape, so the loader can point at lines; every
    problem is listed, each with its path (`rules[2].responders[0]`).
    """
    problems: list[ReferenceProblem] = []
    known: dict[str, set[str] | None] = {}
    for section in _ID_SECTIONS:
        items = data.get(section)
        if items is not None and not isinstance(items, list):
            known[section] = None  # broken: do not report everything that refers to it
            continue
        seen: dict[str, tuple[str | int, ...]] = {}
        for index, item in enumerate(items or []):
            ident = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(ident, str):
                continue
            loc: tuple[str | int, ...] = (section, index, "id")
            if ident in seen:
                problems.append(ReferenceProblem(loc, f"duplicate id '{ident}'", seen[ident]))
            else:
                seen[ident] = loc
        known[section] = set(seen)
    for path, target, noun in _REFERENCES:
        ids = known.get(target)
        if ids is None:
            continue
        for loc, value in _values_at(data, path):
            if isinstance(value, str) and value not in ids:
                problems.append(ReferenceProblem(loc, f"no {noun} with id '{value}'"))
    return problems


def _values_at(
    data: Any, path: tuple[str | int, ...], loc: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every value at `path`, walking into each item of the lists met on the way."""
    if isinstance(data, list):
        return [
            found
            for index, item in enumerate(data)
            for found in _values_at(item, path, (*loc, index))
        ]
    if not path:
        return [(loc, data)]
    if not isinstance(data, Mapping) or path[0] not in data:
        return []
    return _values_at(data[path[0]], path[1:], (*loc, path[0]))
