"""The audit log in the store: append, read, verify, anchor.

Appends never fork the chain. Each takes the head (the highest sequence number) and inserts
head + 1; the sequence number is the primary key, so of two appenders that took the same head,
in this process, in another process on the same SQLite file or on another node on the same
PostgreSQL, one commits and the other gets an IntegrityError and starts over from the new
head. In one process an asyncio lock keeps appends from racing at all, and on PostgreSQL an
advisory transaction lock serializes the nodes, so that starting over stays the exception.

The chain alone proves only that the records agree with each other: whoever can write to the
database could rewrite one and recompute every hash after it. So the hub signs the chain now
and then with its credential key (`anchor`): a record that carries an HMAC of its
predecessor's hash, and a file beside the store naming the newest anchor. Rewriting history
before an anchor, or cutting records off the end, then needs the key as well.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from hub.audit.chain import (
    GENESIS,
    HUB,
    LIMITS,
    Action,
    Actor,
    AuditRecord,
    clean_details,
    clean_text,
)
from hub.credentials import CredentialBox
from hub.store import Database, unbroken
from hub.store.models import AuditRecordRow, utcnow

log = logging.getLogger(__name__)

Row = AuditRecordRow

ANCHOR_PURPOSE = "audit-anchor"
"""The `CredentialBox.sign` purpose of anchors: `<seq>:<hash>` of the record vouched for."""
ANCHOR_FILE = "audit-anchor.json"
"""The newest anchor, beside the store in the data folder."""
ATTEMPTS = 50
"""Appends tried before giving up, each after another appender took the same head."""
BATCH = 1000
"""Records read at once when verifying or exporting."""
MAX_LIMIT = 10_000
"""Records `records()` returns at most."""
_ADVISORY_LOCK = 0x70616E74617501
"""PostgreSQL advisory lock key of appends: 'pantau' and 1."""
_SQLITE_BUSY_SNAPSHOT = 517
"""SQLite's extended result code for a write refused on a snapshot older than the database."""
_UNSET_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class AuditError(Exception):
    """An audit record could not be written, or was refused."""


class PurposeMissing(AuditError):
    """A live view of a private owner's camera was asked for without a purpose."""


class Flaw(StrEnum):
    """What is wrong with the chain at the first broken record."""

    GAP = "gap"
    """Records are missing: the sequence skips."""
    CHANGED = "changed"
    """A record's content no longer matches its hash."""
    LINK = "link"
    """A record does not name its predecessor's hash: replaced, reordered or relinked."""
    ANCHOR = "anchor"
    """An anchor's signature does not hold: the chain before it was recomputed."""
    TRUNCATED = "truncated"
    """The chain ends before the newest anchor the hub wrote down: records were cut off."""


@dataclass(frozen=True, slots=True)
class Problem:
    """The first broken record, and what is wrong with it in plain words."""

    seq: int
    flaw: Flaw
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    """What `AuditLog.verify` found."""

    records: int
    head: int
    """The last record's sequence number (0: the log is empty)."""
    head_hash: str
    anchors: int
    """Anchors whose signature was checked with the hub's key."""
    unchecked_anchors: int
    """Anchors not checked: no key was given."""
    problem: Problem | None

    @property
    def intact(self) -> bool:
        """Whether no problem was found."""
        return self.problem is None

    def summary(self) -> str:
        """One line for people: intact, or the first problem."""
        if self.problem is not None:
            return f"audit log broken at record {self.problem.seq}: {self.problem.message}"
        anchors = f"{self.anchors} anchor{'s' if self.anchors != 1 else ''} checked"
        if self.unchecked_anchors:
            anchors += f", {self.unchecked_anchors} not checked (no key)"
        return (
            f"audit log intact: {self.records} record{'s' if self.records != 1 else ''}, "
            f"head {self.head} ({self.head_hash[:16]}), {anchors}"
        )


def record_of(row: Row) -> AuditRecord:
    """The record a stored row holds, with the hash the row claims."""
    return AuditRecord(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        actor_kind=row.actor_kind,
        actor_name=row.actor_name,
        action=row.action,
        camera_id=row.camera_id,
        owner_id=row.owner_id,
        source=row.source,
        purpose=row.purpose,
        details=dict(row.details or {}),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _row(record: AuditRecord) -> Row:
    return Row(
        seq=record.seq,
        time=record.time,
        actor=record.actor,
        actor_kind=record.actor_kind,
        actor_name=record.actor_name,
        action=record.action,
        camera_id=record.camera_id,
        owner_id=record.owner_id,
        source=record.source,
        purpose=record.purpose,
        details=dict(record.details),
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def _taken(exc: Exception) -> bool:
    """Whether an append failed because another appender took the head first."""
    if isinstance(exc, IntegrityError):
        return True
    # SQLite answers a write on a stale snapshot 'database is locked' at once, without waiting
    # (SQLITE_BUSY_SNAPSHOT). The same words after the busy timeout (plain SQLITE_BUSY) mean a
    # writer holds the lock: trying again would wait the timeout out 50 times.
    return (
        isinstance(exc, OperationalError)
        and getattr(exc.orig, "sqlite_errorcode", None) == _SQLITE_BUSY_SNAPSHOT
    )


class AuditLog:
    """The hub's audit log: `append` records, `records` and `stream` read, `verify` checks."""

    def __init__(
        self,
        db: Database,
        credentials: CredentialBox | None = None,
        *,
        anchor_file: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._credentials = credentials
        self.anchor_file = anchor_file
        """Where `anchor` writes the newest anchor down; None: nowhere."""
        self._clock = clock
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AuditLog({self._db!r})"

    # -- writing

    async def append(
        self,
        action: Action | str,
        actor: Actor,
        *,
        camera_id: str | None = None,
        owner_id: str | None = None,
        source: str | None = None,
        purpose: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Add a record at the head of the chain and return it; ValueError for an unknown action.

        `details` must hold no secret (no password, token, session or channel URL): keys named
        like one are dropped and known secrets scrubbed, but the caller chooses what goes in.
        """
        kind = Action(action)
        if kind is Action.AUDIT_ANCHOR:
            raise ValueError("anchors are written by AuditLog.anchor()")
        return await self._append(
            kind,
            actor,
            camera_id=camera_id,
            owner_id=owner_id,
            source=source,
            purpose=purpose,
            details=details,
        )

    async def view(
        self,
        action: Action | str,
        actor: Actor,
        camera_id: str,
        owner_id: str | None,
        *,
        private: bool,
        source: str | None,
        purpose: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Record a look at a camera before it is shown; PurposeMissing if it needs a purpose.

        A live view of a private owner's camera (`private`) needs one. The web layer calls it
        for `snapshot.view`, `live.view` and `clip.export`, and shows nothing if it raises: no
        record, no picture.
        """
        kind = Action(action)
        purpose = (purpose or "").strip() or None
        if kind is Action.LIVE_VIEW and private and purpose is None:
            raise PurposeMissing(
                f"camera {camera_id!r} belongs to a private owner: state the purpose of this view"
            )
        return await self.append(
            kind,
            actor,
            camera_id=camera_id,
            owner_id=owner_id,
            source=source,
            purpose=purpose,
            details=details,
        )

    async def anchor(self) -> AuditRecord | None:
        """Sign the head into the chain, if anything was appended since the last anchor.

        The anchor record carries `CredentialBox.sign` of its predecessor's `<seq>:<hash>`, and
        `anchor_file` is rewritten to name the anchor itself. Without a key: nothing, None.
        """
        if self._credentials is None:
            return None
        head = await self.head()
        if head is None or head.action == Action.AUDIT_ANCHOR:
            return None
        record = await self._append(Action.AUDIT_ANCHOR, HUB)
        if self.anchor_file is not None:
            signature = self._credentials.sign(ANCHOR_PURPOSE, f"{record.seq}:{record.hash}")
            await asyncio.to_thread(_write_anchor_file, self.anchor_file, record, signature)
        return record

    async def _append(
        self,
        action: Action,
        actor: Actor,
        *,
        camera_id: str | None = None,
        owner_id: str | None = None,
        source: str | None = None,
        purpose: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        draft = AuditRecord(
            seq=0,  # the head's + 1, and the time, once the head is known
            time=_UNSET_TIME,
            actor=clean_text(actor.id, LIMITS["actor"]) or "?",
            actor_kind=actor.kind.value,
            actor_name=clean_text(actor.name, LIMITS["actor_name"]),
            action=action.value,
            camera_id=clean_text(camera_id, LIMITS["camera"]),
            owner_id=clean_text(owner_id, LIMITS["owner"]),
            source=clean_text(source, LIMITS["source"]),
            purpose=clean_text(purpose),
            details=clean_details(details),
        )
        async with self._lock:
            for attempt in range(ATTEMPTS):
                try:
                    return await self._append_once(draft)
                except (IntegrityError, OperationalError) as exc:
                    if not _taken(exc):
                        raise
                    # Another process took the head: start over from the new one, a little later
                    # each time so that two appenders fall out of step.
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise AuditError(f"could not append {action.value}: the head kept moving")

    @unbroken
    async def _append_once(self, draft: AuditRecord) -> AuditRecord:
        async with self._db.session() as session, session.begin():
            if self._db.dialect == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK}
                )
            head = (
                await session.execute(select(Row.seq, Row.hash).order_by(Row.seq.desc()).limit(1))
            ).first()
            seq, prev_hash = (head.seq + 1, head.hash) if head is not None else (1, GENESIS)
            details = draft.details
            if draft.action == Action.AUDIT_ANCHOR:
                assert self._credentials is not None
                signature = self._credentials.sign(ANCHOR_PURPOSE, f"{seq - 1}:{prev_hash}")
                details = {"vouches_for": seq - 1, "signature": signature}
            record = replace(
                draft, seq=seq, time=self._clock(), details=details, prev_hash=prev_hash
            )
            record = replace(record, hash=record.computed_hash())
            session.add(_row(record))
        return record

    # -- reading

    async def head(self) -> AuditRecord | None:
        """The newest record, or None in an empty log."""
        async with self._db.session() as session:
            row = await session.scalar(select(Row).order_by(Row.seq.desc()).limit(1))
        return None if row is None else record_of(row)

    async def records(
        self,
        *,
        owner: str | None = None,
        camera: str | None = None,
        action: Action | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Records newest first, filtered; `before` (a sequence number) pages back.

        Filters: one owner's cameras, one camera, one action, a time range (`since` included,
        `until` not).
        """
        query = _filtered(select(Row), owner, camera, action, since, until)
        if before is not None:
            query = query.where(Row.seq < before)
        query = query.order_by(Row.seq.desc()).limit(max(1, min(limit, MAX_LIMIT)))
        async with self._db.session() as session:
            return [record_of(row) for row in await session.scalars(query)]

    async def stream(
        self,
        *,
        owner: str | None = None,
        camera: str | None = None,
        action: Action | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        batch: int = BATCH,
    ) -> AsyncIterator[AuditRecord]:
        """Every matching record, oldest first, read `batch` at a time (for exports)."""
        after = 0
        while True:
            query = _filtered(select(Row), owner, camera, action, since, until)
            query = query.where(Row.seq > after).order_by(Row.seq).limit(batch)
            async with self._db.session() as session:
                rows = [record_of(row) for row in await session.scalars(query)]
            for record in rows:
                yield record
            if len(rows) < batch:
                return
            after = rows[-1].seq

    # -- checking

    async def verify(self, *, batch: int = BATCH) -> Verification:
        """Walk the chain from record 1 and report the first broken record, if any.

        With the hub's key (given to the log) every anchor's signature is checked too, and the
        chain must reach the anchor named in `anchor_file` with the same hash.
        """
        written = None
        if self._credentials is not None and self.anchor_file is not None:
            written = await asyncio.to_thread(_read_anchor_file, self.anchor_file)
        watch = written.get("seq") if written is not None else None
        walk = _Walk(self._credentials, watch if isinstance(watch, int) else None)
        after = 0
        while walk.problem is None:
            query = select(Row).where(Row.seq > after).order_by(Row.seq).limit(batch)
            async with self._db.session() as session:
                rows = [record_of(row) for row in await session.scalars(query)]
            for record in rows:
                walk.step(record)
                if walk.problem is not None:
                    break
            if len(rows) < batch:
                break
            after = rows[-1].seq
        if walk.problem is None and written is not None:
            assert self._credentials is not None
            walk.problem = _check_anchor_file(written, walk, self._credentials)
        return Verification(
            records=walk.count,
            head=walk.expected - 1,
            head_hash=walk.prev_hash,
            anchors=walk.anchors,
            unchecked_anchors=walk.unchecked,
            problem=walk.problem,
        )


def parse_when(value: str, timezone: str, *, end: bool = False) -> datetime:
    """A filter's time from `2026-11-24`, `2026-11-24T08:00` or with an offset; ValueError else.

    A date or a time without an offset is in the hub's `timezone`. A bare date as the `end` of
    a range means the end of that day, so that `--until 2026-11-30` includes the 30th.
    """
    zone = ZoneInfo(timezone)
    text_value = value.strip()
    if len(text_value) == 10:
        day = date.fromisoformat(text_value)
        start = datetime.combine(day, time(0), zone)
        return start + timedelta(days=1) if end else start
    moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _filtered(
    query: Select[Row],
    owner: str | None,
    camera: str | None,
    action: Action | str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Row]:
    if owner is not None:
        query = query.where(Row.owner_id == owner)
    if camera is not None:
        query = query.where(Row.camera_id == camera)
    if action is not None:
        query = query.where(Row.action == str(action))
    if since is not None:
        query = query.where(Row.time >= since)
    if until is not None:
        query = query.where(Row.time < until)
    return query


class _Walk:
    """The state of one verification as it walks the chain in order."""

    def __init__(self, credentials: CredentialBox | None, watch: int | None) -> None:
        self.credentials = credentials
        self.watch = watch
        """The record the anchor file names, whose hash is kept to hold the file against."""
        self.watched_hash: str | None = None
        self.expected = 1
        self.prev_hash = GENESIS
        self.count = 0
        self.anchors = 0
        self.unchecked = 0
        self.problem: Problem | None = None

    def step(self, record: AuditRecord) -> None:
        seq = record.seq
        if seq != self.expected:
            missing = (
                f"record {self.expected} is missing"
                if seq == self.expected + 1
                else f"records {self.expected} to {seq - 1} are missing"
            )
            self.problem = Problem(
                self.expected, Flaw.GAP, f"{missing}: the chain jumps to record {seq}"
            )
            return
        if record.computed_hash() != record.hash:
            self.problem = Problem(
                seq,
                Flaw.CHANGED,
                f"record {seq} ({record.action}, {record.time:%Y-%m-%d %H:%M:%S} UTC) was"
                " changed after it was written: its content does not match its hash",
            )
            return
        if record.prev_hash != self.prev_hash:
            before = "the start of the chain" if seq == 1 else f"record {seq - 1}"
            self.problem = Problem(
                seq,
                Flaw.LINK,
                f"record {seq} does not follow {before}: it names {record.prev_hash[:16]} as its"
                f" predecessor, which hashes to {self.prev_hash[:16]}"
                " (a record was replaced, reordered or relinked)",
            )
            return
        if record.action == Action.AUDIT_ANCHOR:
            self._check_anchor(record)
            if self.problem is not None:
                return
        self.prev_hash = record.hash
        self.expected = seq + 1
        self.count += 1
        if seq == self.watch:
            self.watched_hash = record.hash

    def _check_anchor(self, record: AuditRecord) -> None:
        if self.credentials is None:
            self.unchecked += 1
            return
        signature = record.details.get("signature")
        vouched = f"{record.seq - 1}:{record.prev_hash}"
        if not isinstance(signature, str) or not self.credentials.verify(
            ANCHOR_PURPOSE, vouched, signature
        ):
            self.problem = Problem(
                record.seq,
                Flaw.ANCHOR,
                f"the hub's signature in anchor record {record.seq} does not hold for record"
                f" {record.seq - 1}: the chain up to it was rewritten and its hashes recomputed"
                " (or it was signed with a key this hub does not have)",
            )
            return
        self.anchors += 1


def _check_anchor_file(
    written: Mapping[str, Any], walk: _Walk, credentials: CredentialBox
) -> Problem | None:
    seq, digest, signature = written.get("seq"), written.get("hash"), written.get("signature")
    if not (isinstance(seq, int) and isinstance(digest, str) and isinstance(signature, str)):
        return Problem(0, Flaw.ANCHOR, f"the anchor file is unreadable: {dict(written)}")
    if not credentials.verify(ANCHOR_PURPOSE, f"{seq}:{digest}", signature):
        return Problem(seq, Flaw.ANCHOR, "the anchor file's signature does not hold")
    if seq >= walk.expected:
        head = walk.expected - 1
        return Problem(
            head + 1,
            Flaw.TRUNCATED,
            f"the chain ends at record {head}, but the hub anchored record {seq} at"
            f" {written.get('time', '?')}: records were cut off the end",
        )
    if walk.watched_hash != digest:
        return Problem(
            seq,
            Flaw.ANCHOR,
            f"anchor record {seq} is not the one the hub wrote down: the chain up to it was"
            " rewritten",
        )
    return None


def _write_anchor_file(path: Path, record: AuditRecord, signature: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "seq": record.seq,
        "hash": record.hash,
        "time": record.as_dict()["time"],
        "signature": signature,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _read_anchor_file(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}
    return document if isinstance(document, dict) else {"error": "not a JSON object"}
