"""Sharing agreements in the store: made, superseded and revoked, never edited or deleted.

An agreement covers one camera, or every camera of its owner that has none of its own. A new
agreement for the same owner and camera cuts the one before it off at the new one's start
(`revoked_at`, `superseded_by`), so at most one is in force at any time and the history stays
whole: that history is what owners, auditors and complaints read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from hub.sharing import Level, Purpose
from hub.store import Database, unbroken
from hub.store.models import NAME_LENGTH, SharingAgreementRow

Row = SharingAgreementRow

LIVE_MINUTES = 60
"""How long after an incident opens a `live_incident` agreement allows live view, by default."""
MAX_LIVE_MINUTES = 24 * 60
FIELDS = frozenset(
    {"owner", "camera", "level", "purpose", "starts_at", "ends_at", "signed_by", "live_minutes"}
)


class AgreementError(ValueError):
    """An agreement cannot be made or revoked as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SharingAgreement:
    """One agreement as stored: what `owner` shares of `camera` (None: all its cameras)."""

    id: str
    owner: str
    camera: str | None
    level: Level
    purpose: Purpose
    starts_at: datetime
    ends_at: datetime | None
    """None: open-ended, in force until revoked or superseded."""
    signed_by: str
    """Who signed for the owner."""
    recorded_by: str
    """Who entered it into the hub."""
    live_minutes: int
    created_at: datetime
    revoked_at: datetime | None
    """When it stopped (or stops) being in force early: revoked, or superseded at that time."""
    revoked_by: str | None
    revoke_reason: str | None
    superseded_by: str | None

    def in_force(self, at: datetime) -> bool:
        """Whether the agreement decides at `at`."""
        return (
            self.starts_at <= at
            and (self.ends_at is None or at < self.ends_at)
            and (self.revoked_at is None or at < self.revoked_at)
        )

    def lapses_at(self) -> datetime | None:
        """When it stops being in force: its end, or an earlier revocation; None: never."""
        ends = [moment for moment in (self.ends_at, self.revoked_at) if moment is not None]
        return min(ends) if ends else None

    def status(self, at: datetime) -> str:
        """`in_force`, `pending` (starts later), `ended`, `revoked` or `superseded` at `at`."""
        if self.in_force(at):
            return "in_force"
        lapse = self.lapses_at()
        if lapse is not None and lapse <= at:
            if self.revoked_at is not None and self.revoked_at == lapse:
                return "superseded" if self.superseded_by else "revoked"
            return "ended"
        return "pending"

    def as_dict(self, at: datetime) -> dict[str, Any]:
        """The agreement as the API shows it, with its status at `at`."""
        return {
            "id": self.id,
            "owner": self.owner,
            "camera": self.camera,
            "level": self.level.value,
            "purpose": self.purpose.value,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "open_ended": self.ends_at is None,
            "signed_by": self.signed_by,
            "recorded_by": self.recorded_by,
            "live_minutes": self.live_minutes,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
            "superseded_by": self.superseded_by,
            "status": self.status(at),
        }


@dataclass(frozen=True, slots=True)
class AgreementDraft:
    """An agreement to make, checked; whether its owner and camera exist is checked apart."""

    owner: str
    camera: str | None
    level: Level
    purpose: Purpose
    starts_at: datetime
    ends_at: datetime | None
    signed_by: str
    live_minutes: int = LIVE_MINUTES


def agreement_of(row: Row) -> SharingAgreement:
    """The agreement a stored row holds."""
    return SharingAgreement(
        id=row.id,
        owner=row.owner_id,
        camera=row.camera_id,
        level=Level(row.level),
        purpose=Purpose(row.purpose),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        signed_by=row.signed_by,
        recorded_by=row.recorded_by,
        live_minutes=row.live_minutes,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
        superseded_by=row.superseded_by,
    )


def _choice(name: str, value: Any, choices: type[Level] | type[Purpose]) -> Any:
    known = ", ".join(choice.value for choice in choices)
    if not isinstance(value, str) or value not in {choice.value for choice in choices}:
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else "that"
        raise AgreementError(f"{name} must be one of {known}, not {shown}")
    return choices(value)


def _text(name: str, value: Any, *, limit: int = NAME_LENGTH) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AgreementError(f"{name} is required: {_WHY[name]}")
    cleaned = " ".join(value.split())
    if len(cleaned) > limit or not cleaned.isprintable():
        raise AgreementError(f"{name} must be one line of at most {limit} printable characters")
    return cleaned


_WHY = {
    "owner": "say whose cameras the agreement covers",
    "signed_by": "name the person who signed the agreement for the owner",
    "reason": "say why the agreement is revoked",
}


def _moment(name: str, value: Any, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (`2026-12-31`) or a time, with an offset or in the hub's time zone."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = datetime.combine(date.fromisoformat(text), time(0), zone)
                # an agreement "until 31 December" includes that whole day
                return day + timedelta(days=1) if end else day
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
        except ValueError:
            pass
    raise AgreementError(
        f"{name} must be a date (2026-12-31) or a time (2026-12-31T17:00+07:00), not {value!r}"
        if isinstance(value, str) and len(value) <= 40
        else f"{name} must be a date (2026-12-31) or a time (2026-12-31T17:00+07:00)"
    )


def parse_draft(body: Mapping[str, Any], timezone: str, now: datetime) -> AgreementDraft:
    """The agreement a request's body describes; AgreementError naming the first problem."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise AgreementError(
            f"unknown field {unknown[0]!r}; an agreement has {', '.join(sorted(FIELDS))}"
        )
    zone = ZoneInfo(timezone)
    owner = _text("owner", body.get("owner"))
    camera = body.get("camera")
    if camera is not None:
        camera = _text("camera", camera)
    level = _choice("level", body.get("level"), Level)
    purpose = _choice("purpose", body.get("purpose"), Purpose)
    signed_by = _text("signed_by", body.get("signed_by"))
    starts = body.get("starts_at")
    starts_at = now if starts is None else _moment("starts_at", starts, zone, end=False)
    if "ends_at" not in body:
        raise AgreementError(
            "ends_at is required: the date the agreement ends, or null for one that runs "
            "until it is revoked"
        )
    ends = body["ends_at"]
    ends_at = None if ends is None else _moment("ends_at", ends, zone, end=True)
    if ends_at is not None and ends_at <= now:
        raise AgreementError("ends_at has passed: an agreement that already ended shares nothing")
    if ends_at is not None and ends_at <= starts_at:
        raise AgreementError("ends_at must be after starts_at")
    minutes = body.get("live_minutes", LIVE_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise AgreementError("live_minutes must be a whole number of minutes")
    if not 1 <= minutes <= MAX_LIVE_MINUTES:
        raise AgreementError(f"live_minutes must be between 1 and {MAX_LIVE_MINUTES}")
    return AgreementDraft(
        owner=owner,
        camera=camera,
        level=level,
        purpose=purpose,
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC) if ends_at is not None else None,
        signed_by=signed_by,
        live_minutes=minutes,
    )


def parse_reason(body: Mapping[str, Any]) -> str:
    """The reason a revocation's body gives; AgreementError when there is none."""
    return _text("reason", body.get("reason"), limit=1000)


class AgreementStore:
    """The `sharing_agreements` table: read all, make (superseding), revoke."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[SharingAgreement]:
        """Every agreement ever made, oldest first."""
        async with self._db.session() as session:
            rows = await session.scalars(select(Row).order_by(Row.created_at, Row.id))
            return [agreement_of(row) for row in rows]

    @unbroken
    async def make(
        self, draft: AgreementDraft, recorded_by: str, now: datetime
    ) -> tuple[SharingAgreement, list[SharingAgreement]]:
        """Store a new agreement and cut off the ones it supersedes; both, as stored now."""
        new_id = uuid.uuid4().hex
        # The new agreement takes over at its start; the old one stays in force until then.
        cut = max(now, draft.starts_at)
        async with self._db.session() as session, session.begin():
            same = (
                Row.camera_id.is_(None) if draft.camera is None else Row.camera_id == draft.camera
            )
            query = select(Row).where(
                Row.owner_id == draft.owner,
                same,
                or_(Row.ends_at.is_(None), Row.ends_at > cut),
                or_(Row.revoked_at.is_(None), Row.revoked_at > cut),
            )
            superseded = list(await session.scalars(query))
            for old in superseded:
                old.revoked_at = cut
                old.revoked_by = recorded_by
                old.revoke_reason = f"superseded by agreement {new_id}"
                old.superseded_by = new_id
            row = Row(
                id=new_id,
                owner_id=draft.owner,
                camera_id=draft.camera,
                level=draft.level.value,
                purpose=draft.purpose.value,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                signed_by=draft.signed_by,
                recorded_by=recorded_by,
                live_minutes=draft.live_minutes,
                created_at=now,
            )
            session.add(row)
        return agreement_of(row), [agreement_of(old) for old in superseded]

    @unbroken
    async def revoke(
        self, agreement_id: str, by: str, reason: str, now: datetime
    ) -> SharingAgreement | None:
        """Revoke an agreement at `now`; None when there is no such agreement."""
        async with self._db.session() as session, session.begin():
            row = await session.get(Row, agreement_id, with_for_update=True)
            if row is None:
                return None
            current = agreement_of(row)
            lapse = current.lapses_at()
            if lapse is not None and lapse <= now:
                raise AgreementError(
                    f"agreement {agreement_id} is {current.status(now)} already "
                    f"(since {lapse.isoformat(timespec='seconds')}): there is nothing to revoke"
                )
            row.revoked_at = now
            row.revoked_by = by
            row.revoke_reason = reason
            row.superseded_by = None
        return agreement_of(row)
