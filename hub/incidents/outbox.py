"""The transactional outbox: an incident change and the notification jobs it causes, one commit.

A job is claimed with a lease before it is sent. A worker killed mid-send leaves its lease to
run out, and the job is then claimed again: delivery is at least once, never at most once,
which is why every message carries its job's idempotency key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.credentials import CredentialBox
from hub.incidents.model import IncidentChange, NotificationJob
from hub.logs import redactor
from hub.store import Database, unbroken
from hub.store.models import IncidentHistoryRow, IncidentRow, NotificationJobRow, utcnow

log = logging.getLogger(__name__)

Job = NotificationJobRow


class JobState(StrEnum):
    """Where a notification job is: waiting, being sent, or finished one way or another."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.SUPERSEDED, JobState.CANCELLED})

_INCIDENT_FIELDS = frozenset(IncidentRow.__table__.columns.keys()) - {"id"}
_DELIVERY_BY = "hub"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job leased to one sender: send it, then `finish` it (or `release` it, unsent)."""

    id: int
    idempotency_key: str
    incident_id: str
    responder: str
    channel_url: str = field(repr=False)
    """The decrypted Apprise URL: a secret, held only while the job is being sent."""
    channel: str
    """The URL with its secrets masked, for logs and people."""
    title: str
    body: str
    attachment: str | None
    rate_key: str | None
    priority: int
    failover_group: str | None
    attempts: int
    """Attempts so far, this one included."""
    not_before: datetime | None
    created_at: datetime

    @property
    def due_since(self) -> datetime:
        """When the job first became due: the age that `give_up_after` is measured from."""
        return self.not_before or self.created_at


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt to send a job came to, and what to do next if it failed."""

    delivered: bool
    at: datetime
    error: str | None = None
    """Why it failed, already scrubbed of the channel's secrets."""
    retry_at: datetime | None = None
    """When to try again; None after a failure means: give up, the job has failed."""


class Outbox:
    """Incident changes with their notification jobs, and the jobs' leases and results."""

    def __init__(
        self,
        db: Database,
        credentials: CredentialBox,
        *,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        if lease <= timedelta(0):
            raise ValueError("the lease must be positive")
        self._db = db
        self._credentials = credentials
        self.lease = lease
        """How long a claimed job is left to its sender before it is claimed again."""
        self._listeners: list[Callable[[], None]] = []
        quiet_apprise()

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after jobs are queued or cancelled; returns a function to stop."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    @unbroken
    async def record(
        self,
        change: IncidentChange,
        incident_fields: dict[str, Any] | None,
        jobs: Sequence[NotificationJob],
        *,
        cancel_pending_for: str | None = None,
    ) -> list[str]:
        """Commit the incident upsert, its history row and its jobs together; new keys back.

        `incident_fields` are column values of the incident (insert when it is new, else
        update); None changes nothing but the history. A job whose idempotency key is already
        queued is skipped. `cancel_pending_for` cancels that incident's not-yet-due jobs in the
        same transaction (an acknowledgement stops the escalation).
        """
        if incident_fields is not None:
            unknown = set(incident_fields) - _INCIDENT_FIELDS
            if unknown:
                raise ValueError(f"not columns of an incident: {', '.join(sorted(unknown))}")
        rows = [self._job_values(job, change.at) for job in jobs]
        async with self._db.session() as session, session.begin():
            await self._upsert_incident(session, change, incident_fields)
            await session.flush()  # the incident first: no ORM relationship orders the inserts
            session.add(
                IncidentHistoryRow(
                    incident_id=change.incident_id,
                    action=change.action,
                    by=change.by,
                    at=change.at,
                    data=dict(change.data),
                )
            )
            await session.flush()
            if cancel_pending_for is not None:
                await self._cancel(session, cancel_pending_for, change.action, change.at)
            queued = await self._insert_jobs(session, rows)
        self._changed()
        return queued

    @unbroken
    async def cancel_pending(
        self, incident_id: str, reason: str, *, at: datetime | None = None
    ) -> int:
        """Cancel the incident's jobs that are not due yet (later escalation steps); how many.

        Jobs already due, and their retries, are left to be delivered.
        """
        async with self._db.session() as session, session.begin():
            count = await self._cancel(session, incident_id, reason, at or utcnow())
        self._changed()
        return count

    @unbroken
    async def due(
        self, now: datetime, limit: int, *, skip_rate_keys: Collection[str] = ()
    ) -> list[ClaimedJob]:
        """Claim up to `limit` jobs due at `now` (and jobs whose lease ran out), with a lease.

        A job of a failover group is due only when every lower-priority job of its group has
        failed at least once. Of the jobs due on one rate key only the first is claimed, and
        none on `skip_rate_keys` (keys the caller has no room on yet): a chat gets its messages
        in order, one at a time.
        """
        if limit <= 0:
            return []
        candidate = aliased(Job)
        paced = ~_waits_on_its_rate_key(candidate, now)
        if skip_rate_keys:
            paced = and_(paced, candidate.rate_key.not_in(list(skip_rate_keys)))
        claimable = select(candidate.id).where(
            _is_claimable(candidate, now),
            ~_waits_for_failover(candidate),
            or_(candidate.rate_key.is_(None), paced),
        )
        claimable = claimable.order_by(candidate.next_attempt_at, candidate.id).limit(limit)
        if self._db.dialect == "postgresql":
            claimable = claimable.with_for_update(skip_locked=True, of=candidate)
        # One statement, so that SQLite claims atomically as PostgreSQL does.
        claim = (
            update(Job)
            .where(Job.id.in_(claimable))
            .values(
                state=JobState.SENDING,
                lease_until=now + self.lease,
                attempts=Job.attempts + 1,
                updated_at=now,
            )
            .returning(Job.id)
        )
        async with self._db.session() as session, session.begin():
            ids = list((await session.execute(claim)).scalars())
            if not ids:
                return []
            query = select(Job).where(Job.id.in_(ids)).order_by(Job.next_attempt_at, Job.id)
            rows = list(await session.scalars(query))
        return [self._claimed(row) for row in rows]

    @unbroken
    async def reclaim(self, now: datetime | None = None) -> int:
        """Make every job still marked as being sent due again at once; how many.

        For a hub starting up, which runs the only delivery worker: a job left "sending" was
        being sent by this hub's previous run (killed, or the machine lost power) and may or
        may not have arrived. Sent again, with the same idempotency key, it arrives at least
        once, without waiting for its lease to run out.
        """
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Job)
                .where(Job.state == JobState.SENDING)
                .values(lease_until=now or utcnow(), updated_at=utcnow())
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            self._changed()
        return count

    @unbroken
    async def release(self, job_id: int, until: datetime | None = None) -> None:
        """Hand a claimed job back unsent: not an attempt; due again at `until`, else as it was."""
        values: dict[str, Any] = {
            "state": JobState.PENDING,
            "lease_until": None,
            "attempts": Job.attempts - 1,
            "updated_at": utcnow(),
        }
        if until is not None:
            values["next_attempt_at"] = until
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == job_id, Job.state == JobState.SENDING).values(values)
            )

    @unbroken
    async def finish(self, job_id: int, result: AttemptResult) -> JobState:
        """Record the result of one attempt; the job's new state back.

        Delivered: the job's failover siblings still waiting are superseded. Failed: pending
        again until `retry_at`, superseded if a sibling got through meanwhile, or failed for
        good (with a history row on the incident) when there is no `retry_at`.
        """
        async with self._db.session() as session, session.begin():
            job = await session.get(Job, job_id, with_for_update=True)
            if job is None:
                raise LookupError(f"no notification job {job_id}")
            if job.state != JobState.SENDING:
                return JobState(job.state)
            job.lease_until = None
            job.updated_at = result.at
            if result.error is not None:
                job.last_error = result.error
            if result.delivered:
                job.state = JobState.DELIVERED
                job.delivered_at = result.at
                if job.failover_group is not None:
                    await self._supersede_siblings(session, job, result.at)
                self._history(session, job, "notified", result.at)
            elif await self._sibling_delivered(session, job):
                job.state = JobState.SUPERSEDED
            elif result.retry_at is not None:
                job.state = JobState.PENDING
                job.next_attempt_at = result.retry_at
            else:
                job.state = JobState.FAILED
                self._history(session, job, "notification_failed", result.at)
            return JobState(job.state)

    async def next_due_at(self, now: datetime) -> datetime | None:
        """The earliest time after `now` when a job becomes due or a lease runs out."""
        async with self._db.session() as session:
            pending = await session.scalar(
                select(func.min(Job.next_attempt_at)).where(
                    Job.state == JobState.PENDING, Job.next_attempt_at > now
                )
            )
            leased = await session.scalar(
                select(func.min(Job.lease_until)).where(
                    Job.state == JobState.SENDING, Job.lease_until > now
                )
            )
        times = [time for time in (pending, leased) if time is not None]
        return min(times) if times else None

    async def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        async with self._db.session() as session:
            rows = await session.execute(select(Job.state, func.count()).group_by(Job.state))
            return {JobState(state): count for state, count in rows}

    async def incidents(
        self,
        state: str | None = None,
        limit: int = 100,
        *,
        alerted: str | None = None,
        owner: str | None = None,
    ) -> list[dict[str, Any]]:
        """The latest incidents (newest first): those in `state`, sent to `alerted`, of `owner`."""
        query = select(IncidentRow).order_by(IncidentRow.created_at.desc()).limit(limit)
        if state is not None:
            query = query.where(IncidentRow.state == state)
        if owner is not None:
            query = query.where(IncidentRow.owner_id == owner)
        if alerted is not None:
            query = query.where(
                exists().where(Job.incident_id == IncidentRow.id, _alerted(alerted, utcnow()))
            )
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [_incident_answer(row) for row in rows]

    async def stored_states(
        self, also: Iterable[str] = ()
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """State and data of every open incident, and of the incidents `also` names."""
        wanted = IncidentRow.state != "resolved"
        named = list(also)
        if named:
            wanted = or_(wanted, IncidentRow.id.in_(named))
        query = select(IncidentRow.id, IncidentRow.state, IncidentRow.data).where(wanted)
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return {row[0]: (row[1], row[2] or {}) for row in rows}

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident as a JSON-ready row, or None."""
        async with self._db.session() as session:
            row = await session.get(IncidentRow, incident_id)
        return None if row is None else _incident_answer(row)

    async def was_alerted(self, incident_id: str, responder: str) -> bool:
        """Whether the incident was sent to the responder (not merely planned for later)."""
        query = select(Job.id).where(Job.incident_id == incident_id, _alerted(responder, utcnow()))
        async with self._db.session() as session:
            return await session.scalar(query.limit(1)) is not None

    @unbroken
    async def rotate_channels(self) -> int:
        """Re-encrypt every job's channel URL with the newest key; how many were re-encrypted."""
        async with self._db.session() as session, session.begin():
            rows = await session.scalars(select(Job))
            count = 0
            for row in rows:
                row.channel_url_encrypted = self._credentials.rotate(row.channel_url_encrypted)
                count += 1
        return count

    async def attachments_in_use(self) -> set[str]:
        """Paths of attachments that jobs not yet finished still need (keep them spooled)."""
        async with self._db.session() as session:
            paths = await session.scalars(
                select(Job.attachment)
                .where(Job.attachment.is_not(None), Job.state.not_in(list(FINISHED)))
                .distinct()
            )
            return {path for path in paths if path is not None}

    def _job_values(self, job: NotificationJob, at: datetime) -> dict[str, Any]:
        redactor.add(channel_secrets(job.channel_url))
        return {
            "idempotency_key": job.idempotency_key,
            "incident_id": job.incident_id,
            "responder": job.responder,
            "channel_url_encrypted": self._credentials.encrypt(job.channel_url),
            "channel": describe_channel(job.channel_url),
            "title": job.title,
            "body": job.body,
            "attachment": job.attachment,
            "not_before": job.not_before,
            "rate_key": job.rate_key or default_rate_key(job.channel_url),
            "priority": job.priority,
            "failover_group": job.failover_group,
            "state": JobState.PENDING,
            "attempts": 0,
            "next_attempt_at": job.not_before or at,
            "created_at": at,
            "updated_at": at,
        }

    def _claimed(self, row: NotificationJobRow) -> ClaimedJob:
        return ClaimedJob(
            id=row.id,
            idempotency_key=row.idempotency_key,
            incident_id=row.incident_id,
            responder=row.responder,
            channel_url=self._credentials.decrypt(row.channel_url_encrypted),
            channel=row.channel,
            title=row.title,
            body=row.body,
            attachment=row.attachment,
            rate_key=row.rate_key,
            priority=row.priority,
            failover_group=row.failover_group,
            attempts=row.attempts,
            not_before=row.not_before,
            created_at=row.created_at,
        )

    async def _upsert_incident(
        self, session: AsyncSession, change: IncidentChange, fields: dict[str, Any] | None
    ) -> None:
        incident = await session.get(IncidentRow, change.incident_id, with_for_update=True)
        if incident is None:
            if fields is None:
                raise LookupError(
                    f"incident {change.incident_id!r} is not stored; give its fields to create it"
                )
            values = {"created_at": change.at, "updated_at": change.at, **fields}
            session.add(IncidentRow(id=change.incident_id, **values))
            return
        if fields is not None:
            for name, value in fields.items():
                setattr(incident, name, value)
            if "updated_at" not in fields:
                incident.updated_at = change.at

    async def _insert_jobs(self, session: AsyncSession, rows: list[dict[str, Any]]) -> list[str]:
        if not rows:
            return []
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = (
            insert(Job)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Job.idempotency_key)
        )
        queued = set((await session.execute(statement)).scalars())
        # RETURNING's order is not promised; give the keys back in the caller's order.
        return [row["idempotency_key"] for row in rows if row["idempotency_key"] in queued]

    async def _cancel(
        self, session: AsyncSession, incident_id: str, reason: str, at: datetime
    ) -> int:
        result = await session.execute(
            update(Job)
            .where(
                Job.incident_id == incident_id,
                Job.state == JobState.PENDING,
                Job.not_before.is_not(None),
                Job.not_before > at,
            )
            .values(state=JobState.CANCELLED, last_error=f"cancelled: {reason}", updated_at=at)
            .returning(Job.id)
        )
        return len(result.all())

    async def _supersede_siblings(
        self, session: AsyncSession, job: NotificationJobRow, at: datetime
    ) -> None:
        await session.execute(
            update(Job)
            .where(
                _siblings_of(job),
                Job.state == JobState.PENDING,
            )
            .values(state=JobState.SUPERSEDED, updated_at=at)
        )

    async def _sibling_delivered(self, session: AsyncSession, job: NotificationJobRow) -> bool:
        if job.failover_group is None:
            return False
        found = await session.scalar(
            select(Job.id).where(_siblings_of(job), Job.state == JobState.DELIVERED).limit(1)
        )
        return found is not None

    @staticmethod
    def _history(session: AsyncSession, job: NotificationJobRow, action: str, at: datetime) -> None:
        data = {
            "idempotency_key": job.idempotency_key,
            "responder": job.responder,
            "channel": job.channel,
            "attempts": job.attempts,
        }
        if action != "notified" and job.last_error:
            data["error"] = job.last_error
        session.add(
            IncidentHistoryRow(
                incident_id=job.incident_id, action=action, by=_DELIVERY_BY, at=at, data=data
            )
        )

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def _incident_answer(row: IncidentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "severity": row.severity,
        "title": row.title,
        "rule": row.rule_id,
        "camera": row.camera_id,
        "site": row.site_id,
        "count": row.count,
        "opened": row.created_at.isoformat(),
        "acknowledged_by": row.acknowledged_by,
        "resolved_by": row.resolved_by,
    }


def _alerted(responder: str, now: datetime) -> ColumnElement[bool]:
    # A job due by now was sent (or tried); a later escalation step's job, or one cancelled
    # before it was due, never reached the responder.
    return and_(
        Job.responder == responder,
        Job.state != JobState.CANCELLED,
        or_(Job.not_before.is_(None), Job.not_before <= now),
    )


def _is_claimable(job: type[NotificationJobRow], now: datetime) -> ColumnElement[bool]:
    """Due and waiting, or being sent by a worker whose lease ran out (it died)."""
    return or_(
        and_(job.state == JobState.PENDING, job.next_attempt_at <= now),
        and_(job.state == JobState.SENDING, job.lease_until <= now),
    )


def _waits_for_failover(candidate: type[NotificationJobRow]) -> ColumnElement[bool]:
    """A lower-priority job of its failover group has not failed yet."""
    lower = aliased(Job)
    return exists().where(
        lower.incident_id == candidate.incident_id,
        lower.failover_group == candidate.failover_group,
        lower.priority < candidate.priority,
        not_(
            or_(
                lower.state.in_([JobState.FAILED, JobState.CANCELLED, JobState.SUPERSEDED]),
                and_(lower.state == JobState.PENDING, lower.attempts >= 1),
            )
        ),
    )


def _waits_on_its_rate_key(
    candidate: type[NotificationJobRow], now: datetime
) -> ColumnElement[bool]:
    """Another job of its rate key is being sent, or is due and ahead of it in line."""
    other = aliased(Job)
    ahead = or_(
        other.next_attempt_at < candidate.next_attempt_at,
        and_(other.next_attempt_at == candidate.next_attempt_at, other.id < candidate.id),
    )
    return exists().where(
        other.rate_key == candidate.rate_key,
        other.id != candidate.id,
        or_(
            and_(other.state == JobState.SENDING, other.lease_until > now),
            and_(_is_claimable(other, now), ahead),
        ),
    )


def _siblings_of(job: NotificationJobRow) -> ColumnElement[bool]:
    return and_(
        Job.incident_id == job.incident_id,
        Job.failover_group == job.failover_group,
        Job.id != job.id,
    )


# Channel URLs: what in them is secret, how to show them, how they are rate-limited.

_SECRET_QUERY_NAMES = re.compile(r"token|key|secret|pass|auth|sig|sid", re.IGNORECASE)
_URL_PIECES = re.compile(r"[/?&#@=:,]+")
_MIN_SECRET = 4


def _looks_like_token(text: str) -> bool:
    """Long, and letters mixed with digits: a token, not a word or a host name."""
    if len(text) < 8 or "." in text:
        return False
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def channel_secrets(url: str) -> set[str]:
    """The parts of an Apprise URL that are secret, in plain and URL-quoted forms.

    Apprise's own privacy mode knows each service's secrets (passwords, bot tokens); it leaves
    webhook paths alone, so path and query parts that look like tokens are added too.
    """
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        userinfo, _, host = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        if password:
            found.add(password)
        if _looks_like_token(user):
            found.add(user)
        found.update(piece for piece in _URL_PIECES.split(host) if _looks_like_token(piece))
        if _looks_like_token(host.replace(":", "")):
            found.add(host)
        found.update(piece for piece in parts.path.split("/") if _looks_like_token(piece))
        for name, value in parse_qsl(parts.query):
            if _SECRET_QUERY_NAMES.search(name) or _looks_like_token(value):
                found.add(value)
    except ValueError:
        # Unparsable: hide everything after the scheme.
        found.add(url.partition("://")[2])
    # Before Apprise parses it: Apprise may log the URL while parsing.
    redactor.add(_with_quoted(found))
    service = _instantiate(url)
    if service is not None:
        plain = _pieces(str(service.url(privacy=False)))
        private = _pieces(str(service.url(privacy=True)))
        found.update(piece for piece in plain - private)
    return {secret for secret in _with_quoted(found) if len(secret) >= _MIN_SECRET}


def describe_channel(url: str) -> str:
    """The URL as Apprise shows it in privacy mode, without options and with no secret left."""
    secrets = channel_secrets(url)
    service = _instantiate(url)
    scheme = url.partition("://")[0] if "://" in url else "?"
    shown = str(service.url(privacy=True)) if service is not None else f"{scheme}://(invalid)"
    shown = shown.partition("?")[0]
    for secret in sorted(secrets, key=len, reverse=True):
        shown = shown.replace(secret, "***")
    return redactor.redact(shown)


def default_rate_key(url: str) -> str | None:
    """A rate-limit key for services that limit per chat: Telegram, keyed by its chat ids."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("tgram", "telegram"):
        return None
    # tgram://{bot_token}/{chat_id}/...: the token is not part of the key, only the chats.
    chats = sorted(part for part in rest.partition("?")[0].split("/")[1:] if part)
    return f"tgram:{','.join(chats)}" if chats else None


def _pieces(url: str) -> set[str]:
    text = unquote(url.partition("?")[0])
    pieces = {piece for piece in _URL_PIECES.split(text) if piece}
    # Whole path segments too: a bot token is `digits:letters` and is secret as a whole.
    pieces.update(segment for segment in text.split("/") if segment)
    return pieces


def _with_quoted(values: Iterable[str]) -> set[str]:
    result: set[str] = set()
    for value in values:
        result.update({value, quote(value, safe=""), unquote(value)})
    return {value for value in result if value}


def _instantiate(url: str) -> Any:
    # Imported here: Apprise loads its hundred plugins on import, the store should not wait.
    import apprise

    return apprise.Apprise.instantiate(url)


_quieted = False


def quiet_apprise() -> None:
    """Keep Apprise's chatty logger at WARNING and scrub it, and urllib3's, of secrets."""
    global _quieted
    if _quieted:
        return
    apprise_log = logging.getLogger("apprise")
    if apprise_log.level < logging.WARNING:
        apprise_log.setLevel(logging.WARNING)
    # Logger filters run before every handler, pytest's and Apprise's own captures included.
    for name in ("apprise", "urllib3.connectionpool"):
        logging.getLogger(name).addFilter(redactor)
    _quieted = True
