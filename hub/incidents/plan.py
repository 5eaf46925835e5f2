"""From the engine's decisions to what the outbox commits: incident rows, history, and jobs.

Pure: given a decision, the roster and the time, `records` says what to commit. Each job's
idempotency key is derived from the decision (incident, action, step, responder, channel), so a
decision replayed after a crash queues nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from hub.incidents.lifecycle import (
    Acknowledge,
    Decision,
    Escalate,
    Incident,
    Notify,
    Open,
    Resolve,
    Summary,
    Suppressed,
    Update,
)
from hub.incidents.model import IncidentChange, IncidentState, NotificationJob
from hub.incidents.routing import Roster
from hub.incidents.rules import render

SEVERITY_WORDS = {
    "id": {
        "critical": "KRITIS",
        "high": "TINGGI",
        "medium": "SEDANG",
        "low": "RENDAH",
        "info": "INFO",
    },
    "en": {
        "critical": "CRITICAL",
        "high": "HIGH",
        "medium": "MEDIUM",
        "low": "LOW",
        "info": "INFO",
    },
}


ACK_WORDS = {"id": "Tangani (acknowledge)", "en": "Acknowledge"}

AckLink = Callable[[str, str], str]
"""(incident id, responder id) -> the signed link that responder acknowledges with."""


@dataclass(frozen=True, slots=True)
class Record:
    """One transaction for the outbox: `Outbox.record(change, incident_fields, jobs, ...)`."""

    change: IncidentChange
    incident_fields: dict[str, Any] | None
    jobs: tuple[NotificationJob, ...] = ()
    cancel_pending_for: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def incident_fields(incident: Incident) -> dict[str, Any]:
    """The incident's columns in the store."""
    escalation = incident.escalation
    return {
        "dedup_key": incident.key,
        "rule_id": incident.rule_id,
        "owner_id": incident.owner or "",
        "camera_id": incident.camera_id,
        "site_id": incident.site,
        "state": incident.state.value,
        "severity": incident.severity.value,
        "title": incident.title[:200],
        "summary": incident.message,
        # the engine's whole incident: a restart that finds the engine's saved state older
        # than the store (a crash between the two writes) takes it from here
        "data": {
            "kind": incident.kind,
            "event_type": incident.event_type,
            "incident": incident.to_dict(),
        },
        "escalation": (
            {
                "policy": escalation.policy,
                "repeat": escalation.repeat,
                "levels": [
                    {"after": level.after, "responders": list(level.responders)}
                    for level in escalation.levels
                ],
            }
            if escalation is not None
            else {}
        ),
        "escalation_step": incident.steps_done,
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "count": incident.count,
    }


def _key(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"pantau-{digest}"


def _jobs(
    incident: Incident,
    responders: tuple[str, ...],
    roster: Roster,
    *,
    step: str,
    title: str,
    body: str,
    attachment: str | None,
    ack: Callable[[str], str | None] = lambda responder: None,
) -> list[NotificationJob]:
    jobs = []
    for responder in responders:
        line = ack(responder)
        text = f"{body}\n{line}" if line else body
        for channel in roster.channels(responder):
            url = channel.url.get_secret_value()
            jobs.append(
                NotificationJob(
                    idempotency_key=_key(incident.id, step, responder, channel.priority, url),
                    incident_id=incident.id,
                    responder=responder,
                    channel_url=url,
                    title=title,
                    body=text,
                    attachment=attachment,
                    priority=channel.priority,
                    failover_group=_key(incident.id, step, responder),
                )
            )
    return jobs


@dataclass(frozen=True, slots=True)
class AlertLayout:
    """How an alert's title and body are laid out: `incidents.alert_title` and `alert_body`.

    Placeholders: `{severity}` (the word, in the hub's language), `{title}` and `{message}` (the
    rule's), `{place}`, `{since}` (local time with the zone's name), `{count}`, `{note}`,
    `{camera_id}`, `{site}`, `{rule}`, `{state}`, `{incident_id}`. Lines that end up empty
    (a `{place}` the camera does not have) are left out. None: the built-in layout.
    """

    title: str | None = None
    body: str | None = None


def message(
    incident: Incident,
    language: str = "id",
    tz: tzinfo = UTC,
    note: str | None = None,
    place: str | None = None,
    layout: AlertLayout | None = None,
) -> tuple[str, str]:
    """The title and body of an alert about `incident`, in Bahasa Indonesia or English.

    Times are in the hub's time zone, with its name (WIB, WITA, WIT): responders read local time.
    """
    words = SEVERITY_WORDS.get(language, SEVERITY_WORDS["id"])
    severity = words.get(incident.severity.value, incident.severity.value.upper())
    since = incident.opened_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    if layout is not None and (layout.title is not None or layout.body is not None):
        fields = {
            "severity": severity,
            "title": incident.title,
            "message": incident.message,
            "place": place or "",
            "since": since,
            "count": incident.count,
            "note": note or "",
            "camera_id": incident.camera_id or "",
            "site": incident.site or "",
            "rule": incident.rule_id,
            "state": incident.state.value,
            "incident_id": incident.id,
        }
        built_title, built_body = message(incident, language, tz, note, place)
        title = render(layout.title, fields) if layout.title is not None else built_title
        if layout.body is None:
            return title, built_body
        lines = render(layout.body, fields).splitlines()
        return title, "\n".join(line for line in lines if line.strip())
    title = f"[{severity}] {incident.title}"
    lines = [incident.message] if incident.message else []
    if place:
        lines.append(f"{'Place' if language == 'en' else 'Lokasi'}: {place}")
    if language == "en":
        lines.append(f"Since {since} ({incident.count}x)")
    else:
        lines.append(f"Sejak {since} ({incident.count}x)")
    if note:
        lines.append(note)
    return title, "\n".join(lines)


def _place(incident: Incident, places: Mapping[str, str] | None) -> str | None:
    if places is None or incident.camera_id is None:
        return None
    return places.get(incident.camera_id)


def place_of(
    name: str | None, address: str | None, lat: float | None, lon: float | None
) -> str | None:
    """Where a camera stands, as an alert says it: site, address and a map link."""
    parts = [part for part in (name, address) if part]
    if lat is not None and lon is not None:
        parts.append(
            f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
        )
    return ", ".join(parts) or None


def records(
    decision: Decision,
    roster: Roster,
    at: datetime,
    *,
    language: str = "id",
    tz: tzinfo = UTC,
    attachment: str | None = None,
    places: Mapping[str, str] | None = None,
    ack_link: AckLink | None = None,
    layout: AlertLayout | None = None,
) -> list[Record]:
    """What to commit for one decision of the incident engine.

    With `ack_link`, an alert about an incident nobody has taken on yet ends with the link its
    responder acknowledges it with.
    """

    def acker(incident: Incident) -> Callable[[str], str | None]:
        if ack_link is None or incident.state is not IncidentState.TRIGGERED:
            return lambda responder: None
        label = ACK_WORDS.get(language, ACK_WORDS["id"])
        return lambda responder: f"{label}: {ack_link(incident.id, responder)}"

    if isinstance(decision, Suppressed):
        return []  # nothing to store: no incident was opened
    if isinstance(decision, Summary):
        out = []
        for incident in decision.incidents:
            title, body = message(
                incident, language, tz, place=_place(incident, places), layout=layout
            )
            out.append(
                Record(
                    IncidentChange(
                        incident.id, decision.action, "hub", at, {"group": decision.group_id}
                    ),
                    incident_fields(incident),
                    tuple(
                        _jobs(
                            incident,
                            decision.notify,
                            roster,
                            step=f"summary:{decision.group_id}",
                            title=title,
                            body=body,
                            attachment=None,
                            ack=acker(incident),
                        )
                    ),
                )
            )
        return out
    incident = decision.incident
    by = "hub"
    notify: tuple[str, ...] = ()
    step = decision.action
    cancel: str | None = None
    data: dict[str, Any] = {}
    if isinstance(decision, Open | Update | Notify):
        notify = decision.notify
        step = f"{decision.action}:{incident.count}" if isinstance(decision, Update) else "open"
        by = f"rule:{incident.rule_id}"
    elif isinstance(decision, Escalate):
        notify = decision.responders
        step = f"escalate:{decision.step}"
        data = {"step": decision.step}
    elif isinstance(decision, Acknowledge):
        by = decision.by
        cancel = incident.id
    elif isinstance(decision, Resolve):
        by = decision.by
        cancel = incident.id
        data = {"reason": decision.reason}
    title, body = message(incident, language, tz, place=_place(incident, places), layout=layout)
    jobs = _jobs(
        incident,
        notify,
        roster,
        step=step,
        title=title,
        body=body,
        attachment=attachment,
        ack=acker(incident),
    )
    return [
        Record(
            IncidentChange(incident.id, decision.action, by, at, data),
            incident_fields(incident),
            tuple(jobs),
            cancel_pending_for=cancel,
        )
    ]
