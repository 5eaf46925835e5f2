"""The incident lifecycle: events and time in, decisions out (open, update, escalate, resolve).

`IncidentEngine` is pure: it reads no clock, never sleeps and does no I/O. The hub feeds it every
event with `handle(event, now)` and calls `tick(now)` every few seconds; the engine answers with
`Decision`s, which the hub turns into incident changes and notification jobs committed together
(the outbox). Its state is plain data (`to_dict`, `from_dict`), so after a restart open
incidents, running escalations and conditions still being timed carry on where they were.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, tzinfo
from fnmatch import fnmatchcase
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from hub.events import Event
from hub.incidents.model import IncidentState, Severity
from hub.incidents.routing import EscalationPolicy, IncidentSettings, Roster, Silence
from hub.incidents.rules import (
    CameraFacts,
    Rule,
    event_phase,
    event_subject,
    render,
    start_type,
    template_fields,
)

STATE_VERSION = 1
_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


# -- incidents ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One step of a policy: alert `responders` `after` seconds after the previous alert."""

    after: float
    responders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """An escalation policy as it was when the incident opened; later edits do not reach it."""

    policy: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 0

    @classmethod
    def freeze(cls, policy: EscalationPolicy) -> EscalationPlan:
        """A copy of `policy` that no configuration change can alter."""
        levels = tuple(EscalationLevel(step.after, tuple(step.responders)) for step in policy.steps)
        return cls(policy.id, levels, policy.repeat)

    @property
    def total_steps(self) -> int:
        """How many escalations there are in all, repeats included."""
        return len(self.levels) * (self.repeat + 1)

    def level(self, step: int) -> EscalationLevel:
        """The level of escalation number `step` (1 first), counting through the repeats."""
        return self.levels[(step - 1) % len(self.levels)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the state."""
        return {
            "policy": self.policy,
            "levels": [[level.after, list(level.responders)] for level in self.levels],
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EscalationPlan:
        """The plan `to_dict` wrote."""
        levels = tuple(EscalationLevel(float(after), tuple(who)) for after, who in data["levels"])
        return cls(str(data["policy"]), levels, int(data["repeat"]))


@dataclass(frozen=True, slots=True)
class Incident:
    """Something a person should look at, raised by a rule; repeats update it, not a new one."""

    id: str
    key: str
    """Deduplication key: owner, camera, rule and time bucket."""
    rule_id: str
    kind: str
    """The rule's kind: event, camera_offline, camera_tampered, data_usage."""
    event_type: str
    camera_id: str | None
    owner: str | None
    site: str | None
    severity: Severity
    title: str
    message: str
    opened_at: datetime
    updated_at: datetime
    state: IncidentState = IncidentState.TRIGGERED
    count: int = 1
    group_id: str | None = None
    rule_responders: tuple[str, ...] = ()
    notified: tuple[str, ...] = ()
    """Every responder alerted so far, escalations included."""
    escalation: EscalationPlan | None = None
    paged_at: datetime | None = None
    """When responders were first alerted; None while it is quiet."""
    steps_done: int = 0
    next_escalation_at: datetime | None = None
    quiet: str | None = None
    """Why nobody was alerted yet: `silenced`, `grouped` (waits for the summary), `flapping`."""
    silence_id: str | None = None
    notify_at: datetime | None = None
    """A flapping camera's incident alerts at this time if still unacknowledged."""
    auto_resolve: bool = False
    conditions: tuple[str, ...] = ()
    """Conditions (a zone's motion, a tamper) still holding it; it auto-resolves when none."""
    first_event_id: str | None = None
    last_event_id: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: times in ISO 8601, states and severities as their names."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, EscalationPlan):
                value = value.to_dict()
            elif isinstance(value, Severity | IncidentState):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            data[item.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """The incident `to_dict` wrote."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            if value is None:
                values[item.name] = None
            elif item.name.endswith("_at"):
                values[item.name] = datetime.fromisoformat(value)
            elif item.name == "escalation":
                values[item.name] = EscalationPlan.from_dict(value)
            elif item.name == "severity":
                values[item.name] = Severity(value)
            elif item.name == "state":
                values[item.name] = IncidentState(value)
            elif isinstance(value, list):
                values[item.name] = tuple(value)
            else:
                values[item.name] = value
        return cls(**values)


# -- decisions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    """A new incident; `notify` are alerted now (none when `incident.quiet` says why not)."""

    action: ClassVar[str] = "triggered"
    incident: Incident
    notify: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Update:
    """A repeat of an open incident (`count` grew); `notify` only when it ends a silence."""

    action: ClassVar[str] = "updated"
    incident: Incident
    notify: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notify:
    """A quiet incident alerts now, such as a flapping camera once its flap window is over."""

    action: ClassVar[str] = "notified"
    incident: Incident
    notify: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Summary:
    """The incidents that joined a site's group after its first, told in one message."""

    action: ClassVar[str] = "summarized"
    group_id: str
    incidents: tuple[Incident, ...]
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Escalate:
    """Nobody acknowledged in time: alert the responders of escalation `step` (1 first)."""

    action: ClassVar[str] = "escalated"
    incident_id: str
    step: int
    responders: tuple[str, ...]
    incident: Incident


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Someone took the incident on; its escalation stops."""

    action: ClassVar[str] = "acknowledged"
    incident: Incident
    by: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """The incident is over, by a person's word or because its condition ended."""

    action: ClassVar[str] = "resolved"
    incident: Incident
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Suppressed:
    """An event a rule matched raised nothing: its camera is offline (inhibition)."""

    action: ClassVar[str] = "suppressed"
    reason: str
    rule_id: str
    camera_id: str | None
    event_type: str
    event_id: str


Decision = Open | Update | Notify | Summary | Escalate | Acknowledge | Resolve | Suppressed


# -- the engine's own state -----------------------------------------------------------------------


@dataclass(slots=True)
class _Condition:
    """Something that began (motion in a zone, a camera offline) and may fire or end."""

    key: str
    rule_id: str
    camera_id: str | None
    event: dict[str, Any]
    """The wire form of the event that began it, for the alert's text."""
    fire_at: datetime | None
    """When it will have lasted long enough; None once fired."""
    incident_id: str | None = None
    resolve_at: datetime | None = None
    """camera_offline: back online; resolve when this passes without going offline again."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule_id": self.rule_id,
            "camera_id": self.camera_id,
            "event": self.event,
            "fire_at": _iso(self.fire_at),
            "incident_id": self.incident_id,
            "resolve_at": _iso(self.resolve_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Condition:
        return cls(
            key=data["key"],
            rule_id=data["rule_id"],
            camera_id=data["camera_id"],
            event=data["event"],
            fire_at=_time(data["fire_at"]),
            incident_id=data["incident_id"],
            resolve_at=_time(data["resolve_at"]),
        )


@dataclass(slots=True)
class _Group:
    """Incidents at one site close together in time; the first alerts, the rest are summed up."""

    id: str
    site: str
    ends_at: datetime
    top_rank: int
    """The highest severity alerted at once; a more severe newcomer alerts at once too."""
    held: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "ends_at": self.ends_at.isoformat(),
            "top_rank": self.top_rank,
            "held": list(self.held),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Group:
        return cls(
            data["id"],
            data["site"],
            datetime.fromisoformat(data["ends_at"]),
            int(data["top_rank"]),
            list(data["held"]),
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _no_camera(camera_id: str) -> CameraFacts | None:
    return None


def _random_id() -> str:
    return uuid.uuid4().hex


# -- the engine -----------------------------------------------------------------------------------


class IncidentEngine:
    """Decides when events become incidents and who is alerted when; holds what is open.

    `cameras` tells the engine about a camera (owner, site, tags) from its id; `new_id` makes
    incident and group ids. Every `now` must be timezone-aware.
    """

    def __init__(
        self,
        settings: IncidentSettings,
        *,
        timezone: str | tzinfo = "Asia/Jakarta",
        cameras: Callable[[str], CameraFacts | None] = _no_camera,
        new_id: Callable[[], str] = _random_id,
        language: str = "id",
    ) -> None:
        self._tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.language = language
        """Of the kinds' default titles and messages: id (Bahasa Indonesia) or en."""
        self._cameras = cameras
        self._new_id = new_id
        self._incidents: dict[str, Incident] = {}
        self._by_key: dict[str, str] = {}
        self._conditions: dict[str, _Condition] = {}
        self._counts: dict[str, list[datetime]] = {}
        self._offline: dict[str, datetime] = {}
        self._groups: dict[str, _Group] = {}
        self._flap_until: dict[str, datetime] = {}
        self._added_silences: dict[str, Silence] = {}
        self.reconfigure(settings)

    # -- configuration ----------------------------------------------------------------------

    def reconfigure(self, settings: IncidentSettings) -> None:
        """Use new rules, responders, policies and silences from now on.

        Open incidents keep the escalation they were given; conditions and counts of rules
        that no longer exist are dropped.
        """
        self._settings = settings
        self._rules = {rule.id: rule for rule in settings.rules}
        self._policies = {policy.id: policy for policy in settings.escalation_policies}
        self.roster = Roster(settings.responders, self._tz)
        for key, condition in list(self._conditions.items()):
            if condition.rule_id not in self._rules:
                del self._conditions[key]
        for key in list(self._counts):
            if key.partition("|")[0] not in self._rules:
                del self._counts[key]

    def add_silence(self, silence: Silence) -> None:
        """Add (or replace, by id) a silence made at run time, such as from the dashboard."""
        self._added_silences[silence.id] = silence

    def remove_silence(self, silence_id: str) -> bool:
        """End a silence made at run time early; False when there is none by that id."""
        return self._added_silences.pop(silence_id, None) is not None

    def silences(self) -> list[Silence]:
        """The configured silences, then those added at run time."""
        configured = [s for s in self._settings.silences if s.id not in self._added_silences]
        return [*configured, *self._added_silences.values()]

    # -- reading ------------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        """Every open (triggered or acknowledged) incident, oldest first."""
        return sorted(self._incidents.values(), key=lambda incident: incident.opened_at)

    def incident(self, incident_id: str) -> Incident | None:
        """The open incident with this id; None when unknown or resolved."""
        return self._incidents.get(incident_id)

    def adopt(self, incident: Incident) -> None:
        """Hold `incident` as the store has it (newer than the engine's own saved state)."""
        if incident.state is IncidentState.RESOLVED:
            self.forget(incident.id)
            return
        previous = self._incidents.get(incident.id)
        if previous is not None and self._by_key.get(previous.key) == previous.id:
            del self._by_key[previous.key]
        self._incidents[incident.id] = incident
        self._by_key[incident.key] = incident.id

    def forget(self, incident_id: str) -> None:
        """Stop holding an incident the store says is resolved."""
        incident = self._incidents.pop(incident_id, None)
        if incident is None:
            return
        if self._by_key.get(incident.key) == incident_id:
            del self._by_key[incident.key]
        for group in self._groups.values():
            if incident_id in group.held:
                group.held.remove(incident_id)

    def is_offline(self, camera_id: str) -> bool:
        """Whether the last word about this camera was `camera.offline`."""
        return camera_id in self._offline

    # -- input --------------------------------------------------------------------------------

    def handle(self, event: Event, now: datetime) -> list[Decision]:
        """What `event` changes; work that fell due by `now` is done first (as in `tick`)."""
        decisions = self.tick(now)
        camera_id = event.camera_id
        camera = self._cameras(camera_id) if camera_id is not None else None
        if camera_id is not None and event.type == "camera.offline":
            self._went_offline(camera_id, event.time)
        elif camera_id is not None and event.type == "camera.online":
            self._offline.pop(camera_id, None)
        for rule in list(self._rules.values()):
            if rule.kind == "camera_offline":
                decisions += self._offline_event(rule, event, camera, now)
            else:
                decisions += self._rule_event(rule, event, camera, now)
        return decisions

    def tick(self, now: datetime) -> list[Decision]:
        """Work that falls due with time: conditions that lasted, summaries, escalations."""
        decisions: list[Decision] = []
        decisions += self._summaries(now)
        decisions += self._fire_conditions(now)
        decisions += self._settle(now)
        decisions += self._deferred(now)
        decisions += self._escalations(now)
        self._prune(now)
        return decisions

    def acknowledge(self, incident_id: str, by: str, now: datetime) -> list[Decision]:
        """`by` takes the incident on: escalation stops. Unknown, resolved or acked: nothing."""
        incident = self._incidents.get(incident_id)
        if incident is None or incident.state is not IncidentState.TRIGGERED:
            return []
        incident = replace(
            incident,
            state=IncidentState.ACKNOWLEDGED,
            acknowledged_by=by,
            acknowledged_at=now,
            updated_at=now,
            next_escalation_at=None,
            notify_at=None,
        )
        self._incidents[incident.id] = incident
        return [Acknowledge(incident, by)]

    def resolve(
        self, incident_id: str, by: str, now: datetime, reason: str = "resolved"
    ) -> list[Decision]:
        """`by` closes the incident. An id the engine does not hold (unknown, resolved): nothing."""
        incident = self._incidents.get(incident_id)
        if incident is None:
            return []
        return [self._close(incident, by, now, reason)]

    # -- events, rule by rule -------------------------------------------------------------------

    def _rule_event(
        self, rule: Rule, event: Event, camera: CameraFacts | None, now: datetime
    ) -> list[Decision]:
        phase = event_phase(event)
        if phase == "end" and rule.watches(start_type(event.type)):
            if not rule.covers_camera(camera, event.camera_id):
                return []
            return self._ended(self._condition_key(rule, event), now, "the condition ended")
        if not rule.matches(event, camera, self._tz):
            return []
        if self._inhibited(event):
            return [
                Suppressed("camera offline", rule.id, event.camera_id, event.type, event.context.id)
            ]
        key = self._condition_key(rule, event)
        if rule.for_at_least is not None:
            timed = self._conditions.get(key)
            if phase != "start" or (timed is not None and timed.fire_at is not None):
                return []  # a moment cannot last; a condition being timed keeps its start
            if timed is not None:
                # it lasted long enough already and is said to start again (or its end was
                # lost): a repeat, so that a missing end never leaves the rule deaf
                kept = key if rule.resolves else None
                return self._fire(rule, event, camera, event.time, now, kept)
            fire_at = event.time + timedelta(seconds=rule.for_at_least)
            self._conditions[key] = _Condition(
                key, rule.id, event.camera_id, event.model_dump(mode="json"), fire_at
            )
            return self._fire_conditions(now)
        if rule.count is not None:
            times = self._counts.setdefault(f"{rule.id}|{event.camera_id}", [])
            times.append(event.time)
            since = event.time - timedelta(seconds=rule.count.within)
            times[:] = sorted(moment for moment in times if moment > since)
            if len(times) < rule.count.at_least:
                return []
        kept = key if phase == "start" and rule.resolves else None
        return self._fire(rule, event, camera, event.time, now, kept)

    def _offline_event(
        self, rule: Rule, event: Event, camera: CameraFacts | None, now: datetime
    ) -> list[Decision]:
        camera_id = event.camera_id
        if camera_id is None or not rule.watches(event.type):
            return []
        key = f"{rule.id}|{camera_id}"
        condition = self._conditions.get(key)
        if event.type == "camera.online":
            if condition is None:
                return []
            if condition.incident_id not in self._incidents:
                del self._conditions[key]  # back before it counted, or resolved by hand
            elif condition.resolve_at is None:
                stable = timedelta(seconds=rule.stable_seconds)
                condition.resolve_at = event.time + stable
            return []
        if condition is not None:
            if condition.resolve_at is None or condition.incident_id is None:
                return []  # still offline: nothing new
            if condition.incident_id in self._incidents:
                condition.resolve_at = None  # flapped: offline again before it was stable
                return self._repeat(condition.incident_id, event, now, None)
            del self._conditions[key]  # resolved by hand meanwhile: this is a new outage
        if not rule.matches(event, camera, self._tz):
            return []
        threshold = rule.offline_after
        if camera is not None and camera.offline_after is not None:
            threshold = camera.offline_after
        self._conditions[key] = _Condition(
            key,
            rule.id,
            camera_id,
            event.model_dump(mode="json"),
            event.time + timedelta(seconds=threshold),
        )
        return self._fire_conditions(now)

    def _condition_key(self, rule: Rule, event: Event) -> str:
        return f"{rule.id}|{event.camera_id}|{event_subject(event)}"

    def _inhibited(self, event: Event) -> bool:
        if event.camera_id is None or event.camera_id not in self._offline:
            return False
        types = (event.type, start_type(event.type))
        return any(
            fnmatchcase(kind, pattern)
            for kind in types
            for pattern in self._settings.inhibit_while_offline
        )

    def _went_offline(self, camera_id: str, at: datetime) -> None:
        self._offline.setdefault(camera_id, at)
        # what was being timed on its pictures cannot be trusted to last: forget it
        for key, condition in list(self._conditions.items()):
            if (
                condition.camera_id == camera_id
                and condition.fire_at is not None
                and self._inhibited(Event.parse_wire(condition.event))
            ):
                del self._conditions[key]

    # -- opening and repeating ----------------------------------------------------------------

    def _fire(
        self,
        rule: Rule,
        event: Event,
        camera: CameraFacts | None,
        at: datetime,
        now: datetime,
        condition: str | None,
    ) -> list[Decision]:
        """The rule's condition holds at `at`: open an incident, or repeat the open one."""
        owner = camera.owner if camera is not None else None
        key = self._dedup_key(rule, owner, event.camera_id, at)
        existing = self._by_key.get(key)
        if existing is not None:
            return self._repeat(existing, event, now, condition)
        fields_ = template_fields(rule, event, camera, self._tz)
        policy = self._policies.get(rule.escalation) if rule.escalation else None
        incident = Incident(
            id=self._new_id(),
            key=key,
            rule_id=rule.id,
            kind=rule.kind,
            event_type=event.type,
            camera_id=event.camera_id,
            owner=owner,
            site=camera.site if camera is not None else None,
            severity=rule.severity,
            title=render(rule.title_template(self.language), fields_),
            message=render(rule.message_template(self.language), fields_),
            opened_at=now,
            updated_at=now,
            rule_responders=tuple(rule.responders),
            escalation=EscalationPlan.freeze(policy) if policy is not None else None,
            auto_resolve=rule.resolves,
            conditions=(condition,) if condition is not None else (),
            first_event_id=event.context.id,
            last_event_id=event.context.id,
        )
        self._by_key[key] = incident.id
        self._hold(condition, rule, event, incident.id)
        return [self._announce(incident, rule, now)]

    def _dedup_key(self, rule: Rule, owner: str | None, camera_id: str | None, at: datetime) -> str:
        # buckets start on the hub's clock: a 1-day bucket runs from local midnight
        offset = (at.astimezone(self._tz).utcoffset() or timedelta()).total_seconds()
        start = math.floor((at.timestamp() + offset) / rule.bucket) * rule.bucket - offset
        bucket = datetime.fromtimestamp(start, self._tz).isoformat()
        return f"{owner or '-'}/{camera_id or '-'}/{rule.id}/{bucket}"

    def _hold(self, condition: str | None, rule: Rule, event: Event, incident_id: str) -> None:
        if condition is None:
            return
        held = self._conditions.get(condition)
        if held is None:
            held = _Condition(
                condition, rule.id, event.camera_id, event.model_dump(mode="json"), None
            )
            self._conditions[condition] = held
        held.incident_id = incident_id

    def _announce(self, incident: Incident, rule: Rule, now: datetime) -> Open:
        """Who hears of a new incident now: nobody if silenced, flapping or summed up later."""
        silence = self._silence_for(incident, now)
        if silence is not None:
            return Open(self._store(replace(incident, quiet="silenced", silence_id=silence.id)))
        if rule.kind == "camera_offline":
            until = self._flap_until.get(f"{rule.id}|{incident.camera_id}")
            if until is not None and until > now:
                quiet = replace(incident, quiet="flapping", notify_at=until)
                return Open(self._store(quiet))
        rank = _RANK[incident.severity]
        site = incident.site
        if site is not None:
            group = self._groups.get(site)
            if group is not None and group.ends_at > now:
                incident = replace(incident, group_id=group.id)
                if rank <= group.top_rank:
                    group.held.append(incident.id)
                    return Open(self._store(replace(incident, quiet="grouped")))
                group.top_rank = rank  # more severe than what was told: do not make it wait
            else:
                window = timedelta(seconds=self._settings.group_window)
                group = _Group(self._new_id(), site, now + window, rank, [])
                self._groups[site] = group
                incident = replace(incident, group_id=group.id)
        notify = tuple(self.roster.route(incident, now))
        return Open(self._paged(incident, notify, now), notify)

    def _repeat(
        self, incident_id: str, event: Event, now: datetime, condition: str | None
    ) -> list[Decision]:
        incident = self._incidents.get(incident_id)
        if incident is None:
            return []
        held = incident.conditions
        if condition is not None and condition not in held:
            held = (*held, condition)
            rule = self._rules.get(incident.rule_id)
            if rule is not None:
                self._hold(condition, rule, event, incident.id)
        incident = replace(
            incident,
            count=incident.count + 1,
            updated_at=now,
            last_event_id=event.context.id,
            conditions=held,
        )
        notify: tuple[str, ...] = ()
        if (
            incident.quiet == "silenced"
            and incident.state is IncidentState.TRIGGERED
            and self._silence_for(incident, now) is None
        ):
            # it goes on after the maintenance window: now it is news
            notify = tuple(self.roster.route(incident, now))
            incident = replace(incident, silence_id=None)
            incident = self._paged(incident, notify, now)
        return [Update(self._store(incident), notify)]

    def _paged(self, incident: Incident, notify: tuple[str, ...], now: datetime) -> Incident:
        """Record that responders were alerted now, and start the escalation clock."""
        plan = incident.escalation
        first_step = None
        if plan is not None and plan.total_steps and incident.paged_at is None:
            first_step = now + timedelta(seconds=plan.level(1).after)
        incident = replace(
            incident,
            paged_at=incident.paged_at or now,
            next_escalation_at=first_step or incident.next_escalation_at,
            notified=tuple(dict.fromkeys((*incident.notified, *notify))),
            quiet=None,
            notify_at=None,
        )
        if incident.kind == "camera_offline":
            rule = self._rules.get(incident.rule_id)
            window = rule.flap_seconds if rule is not None else 0.0
            self._flap_until[f"{incident.rule_id}|{incident.camera_id}"] = now + timedelta(
                seconds=window
            )
        return self._store(incident)

    def _store(self, incident: Incident) -> Incident:
        self._incidents[incident.id] = incident
        return incident

    def _silence_for(self, incident: Incident, now: datetime) -> Silence | None:
        for silence in self.silences():
            if silence.is_active(now, self._tz) and silence.matches(
                camera_id=incident.camera_id,
                site=incident.site,
                owner=incident.owner,
                rule_id=incident.rule_id,
            ):
                return silence
        return None

    # -- ending -------------------------------------------------------------------------------

    def _ended(self, key: str, now: datetime, reason: str) -> list[Decision]:
        condition = self._conditions.pop(key, None)
        if condition is None or condition.incident_id is None:
            return []  # ended before it counted
        incident = self._incidents.get(condition.incident_id)
        if incident is None:
            return []
        remaining = tuple(held for held in incident.conditions if held != key)
        incident = self._store(replace(incident, conditions=remaining))
        if remaining or not incident.auto_resolve:
            return []
        return [self._close(incident, f"rule:{incident.rule_id}", now, reason)]

    def _close(self, incident: Incident, by: str, now: datetime, reason: str) -> Resolve:
        incident = replace(
            incident,
            state=IncidentState.RESOLVED,
            resolved_by=by,
            resolved_at=now,
            updated_at=now,
            next_escalation_at=None,
            notify_at=None,
        )
        del self._incidents[incident.id]
        if self._by_key.get(incident.key) == incident.id:
            del self._by_key[incident.key]
        for group in self._groups.values():
            if incident.id in group.held:
                group.held.remove(incident.id)
        return Resolve(incident, by, reason)

    # -- work that falls due ------------------------------------------------------------------

    def _summaries(self, now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for site, group in list(self._groups.items()):
            if group.ends_at > now:
                continue
            del self._groups[site]
            waiting = [
                self._incidents[held]
                for held in group.held
                if held in self._incidents
                and self._incidents[held].state is IncidentState.TRIGGERED
            ]
            if not waiting:
                continue
            notify: dict[str, None] = {}
            for incident in waiting:
                notify.update(dict.fromkeys(self.roster.route(incident, now)))
            told = tuple(notify)
            summed = tuple(self._paged(incident, told, now) for incident in waiting)
            decisions.append(Summary(group.id, summed, told))
        return decisions

    def _fire_conditions(self, now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        due = [c for c in self._conditions.values() if c.fire_at is not None and c.fire_at <= now]
        for condition in sorted(due, key=lambda c: (c.fire_at or now, c.key)):
            at = condition.fire_at or now
            condition.fire_at = None
            rule = self._rules.get(condition.rule_id)
            if rule is None:
                continue
            event = Event.parse_wire(condition.event)
            camera = self._cameras(event.camera_id) if event.camera_id is not None else None
            held = condition.key if rule.resolves else None
            decisions += self._fire(rule, event, camera, at, now, held)
        return decisions

    def _settle(self, now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for key, condition in list(self._conditions.items()):
            if condition.resolve_at is None or condition.resolve_at > now:
                continue
            del self._conditions[key]
            incident = self._incidents.get(condition.incident_id or "")
            if incident is not None:
                by = f"rule:{incident.rule_id}"
                decisions.append(self._close(incident, by, now, "back online and stable"))
        return decisions

    def _deferred(self, now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for incident in self.incidents():
            if incident.notify_at is None or incident.notify_at > now:
                continue
            notify = tuple(self.roster.route(incident, now))
            told = self._paged(incident, notify, now)
            decisions.append(Notify(told, notify, "still open after the flap window"))
        return decisions

    def _escalations(self, now: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        for incident in self.incidents():
            plan = incident.escalation
            if plan is None or incident.state is not IncidentState.TRIGGERED:
                continue
            while incident.next_escalation_at is not None and incident.next_escalation_at <= now:
                step = incident.steps_done + 1
                responders = plan.level(step).responders
                due = incident.next_escalation_at
                after = None
                if step < plan.total_steps:
                    after = due + timedelta(seconds=plan.level(step + 1).after)
                incident = self._store(
                    replace(
                        incident,
                        steps_done=step,
                        next_escalation_at=after,
                        updated_at=now,
                        notified=tuple(dict.fromkeys((*incident.notified, *responders))),
                    )
                )
                decisions.append(Escalate(incident.id, step, responders, incident))
        return decisions

    def _prune(self, now: datetime) -> None:
        for key, times in list(self._counts.items()):
            rule = self._rules.get(key.partition("|")[0])
            within = rule.count.within if rule is not None and rule.count is not None else 0.0
            since = now - timedelta(seconds=within)
            times[:] = [moment for moment in times if moment > since]
            if not times:
                del self._counts[key]
        for key, until in list(self._flap_until.items()):
            if until <= now:
                del self._flap_until[key]

    # -- state ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything the engine holds, as JSON-ready data, for `from_dict` after a restart."""
        return {
            "version": STATE_VERSION,
            "incidents": [incident.to_dict() for incident in self.incidents()],
            "conditions": [condition.to_dict() for condition in self._conditions.values()],
            "counts": {
                key: [moment.isoformat() for moment in times] for key, times in self._counts.items()
            },
            "offline": {camera: since.isoformat() for camera, since in self._offline.items()},
            "groups": [group.to_dict() for group in self._groups.values()],
            "flap_until": {key: until.isoformat() for key, until in self._flap_until.items()},
            "silences": [
                silence.model_dump(mode="json") for silence in self._added_silences.values()
            ],
        }

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        settings: IncidentSettings,
        *,
        timezone: str | tzinfo = "Asia/Jakarta",
        cameras: Callable[[str], CameraFacts | None] = _no_camera,
        new_id: Callable[[], str] = _random_id,
        language: str = "id",
    ) -> IncidentEngine:
        """An engine that carries on from the state `to_dict` wrote, with today's settings."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"incident engine state of version {data.get('version')!r}")
        engine = cls(settings, timezone=timezone, cameras=cameras, new_id=new_id, language=language)
        for item in data["incidents"]:
            incident = Incident.from_dict(item)
            engine._incidents[incident.id] = incident
            engine._by_key[incident.key] = incident.id
        for item in data["conditions"]:
            condition = _Condition.from_dict(item)
            engine._conditions[condition.key] = condition
        engine._counts = {
            key: [datetime.fromisoformat(moment) for moment in times]
            for key, times in data["counts"].items()
        }
        engine._offline = {
            camera: datetime.fromisoformat(since) for camera, since in data["offline"].items()
        }
        engine._groups = {}
        for item in data["groups"]:
            group = _Group.from_dict(item)
            engine._groups[group.site] = group
        engine._flap_until = {
            key: datetime.fromisoformat(until) for key, until in data["flap_until"].items()
        }
        for item in data["silences"]:
            engine.add_silence(Silence.model_validate(item))
        engine.reconfigure(settings)  # drops what belongs to rules that are gone
        return engine
