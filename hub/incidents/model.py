"""The vocabulary the incident pieces share: states, changes, and the jobs that alert people.

An incident change and the notification jobs it causes are committed in one transaction (the
outbox); a delivery worker then sends each job through Apprise and records each result, so a
dead channel, a crash or a restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class IncidentState(StrEnum):
    """Where an incident stands: someone must own it until it is resolved."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """How urgent; rules set it, routing and templates use it."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class NotificationJob:
    """One message to one responder's channel (an Apprise URL), to be delivered at least once.

    `idempotency_key` is the same for every retry of this job and is put in the message, so a
    receiver can drop a repeat; `not_before` delays a job (escalation steps, retries).
    """

    idempotency_key: str
    incident_id: str
    responder: str
    channel_url: str
    """An Apprise URL; a secret: never logged, never in an API answer."""
    title: str
    body: str
    attachment: str | None = None
    """Path of a spooled file (the snapshot JPEG) attached by path."""
    not_before: datetime | None = None
    rate_key: str | None = None
    """Jobs with the same key share a rate limit (a Telegram chat: about one a second)."""
    priority: int = 0
    """Channel failover order within one responder: 0 first; a higher one is sent only when
    every lower one failed (WhatsApp down: SMS, then e-mail)."""
    failover_group: str | None = None
    """Jobs of one failover chain share this; delivered as soon as one of them succeeds."""


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """A change to an incident, as one `incident.*` event and one row of its history."""

    incident_id: str
    action: str
    """`triggered`, `updated` (a repeat), `acknowledged`, `resolved`, `escalated`, ..."""
    by: str | None
    """Who did it: a user, a responder, `rule:<id>`, `hub`."""
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
