"""The tables of Pantau's store, declared once for the ORM and for Alembic's drift check."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 64
NAME_LENGTH = 200


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times and normalise aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware times only")
        value = value.astimezone(UTC)
        # SQLite has no zone type; keep the text free of offsets so comparisons stay textual.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base sharing one metadata with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Timestamped:
    """Creation and last-change times, set by Python so every backend agrees."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OwnerRow(Timestamped, Base):
    """An OPD or a private business that owns cameras."""

    __tablename__ = "owners"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    contact_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_email: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    source: Mapped[str] = mapped_column(String(16))
    # Days its clips and stored pictures are kept; None: the hub's `retention_days`.
    retention_days: Mapped[int | None] = mapped_column(Integer)


class SiteRow(Timestamped, Base):
    """A place where an owner's cameras hang: an office, a mall, a junction."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    owner_id: Mapped[str] = mapped_column(ForeignKey("owners.id"), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))


class CameraRow(Timestamped, Base):
    """A camera; its password is kept only encrypted, and only for API or import cameras."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    owner_id: Mapped[str] = mapped_column(ForeignKey("owners.id"), index=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    # Config cameras keep their password in secrets.yaml; this only says that one exists.
    password_in_config: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16))


class DataUsageRow(Base):
    """Bytes a camera delivered on one day; filled by the stream engine."""

    __tablename__ = "data_usage"

    # No foreign key: usage history outlives a removed camera, for monthly reports.
    camera_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)


class IncidentRow(Timestamped, Base):
    """An incident: opened by a rule, repeated, acknowledged and resolved by people."""

    __tablename__ = "incidents"
    # One OPEN incident per dedup key: a repeat finds it and counts up. Once it is resolved the
    # same thing in the same time bucket is a new incident, with the same key.
    __table_args__ = (
        Index(
            "uq_incidents_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255))
    rule_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    # No foreign keys to owners, sites or cameras: an incident outlives a removed camera.
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    camera_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    site_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    state: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(NAME_LENGTH))
    summary: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The escalation policy as it was when the incident opened: a later config edit does not
    # change whom an open incident reaches.
    escalation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    count: Mapped[int] = mapped_column(Integer, default=1)


class IncidentHistoryRow(Base):
    """One change to an incident, append-only: who did what, when."""

    __tablename__ = "incident_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    at: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NotificationJobRow(Timestamped, Base):
    """One message to one responder's channel, kept until it is delivered or given up."""

    __tablename__ = "notification_jobs"
    # The delivery worker's question, asked every few seconds: what is due now?
    __table_args__ = (
        Index("ix_notification_jobs_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    responder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # The Apprise URL holds tokens and passwords: kept only encrypted (CredentialBox).
    channel_url_encrypted: Mapped[str] = mapped_column(Text)
    # The same URL with its secrets masked, for people and logs.
    channel: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    attachment: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column()
    rate_key: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    failover_group: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()


class UserRow(Timestamped, Base):
    """A person who signs in: a role, and the owner or responder an owner or responder acts for."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # No foreign key: owners come and go with the config; the user stays, and sees nothing.
    owner_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    # A responder's id from the config's `responders:`, which the store does not hold.
    responder_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # Argon2id, in its encoded form (parameters and salt with the hash); never the password.
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column()


class ApiTokenRow(Timestamped, Base):
    """A machine's token, acting for one user within its scopes; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    # A token has 256 random bits: a plain digest is enough to look it up and gives nothing away.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class WebSessionRow(Base):
    """A signed-in browser, keyed by its cookie's SHA-256: a copy of the store opens no session."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditRecordRow(Base):
    """One access or change, hash-chained to the record before it; never updated or deleted."""

    __tablename__ = "audit_records"

    # Given by the appender (head + 1), not by the database: the primary key is what keeps two
    # appenders from both taking the same predecessor, so the chain cannot fork.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(32), index=True)
    # No foreign keys: the record of a camera outlives the camera, and its owner.
    camera_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    source: Mapped[str | None] = mapped_column(String(255))
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class IngestedEventRow(Base):
    """An event id an owner's system sent in, kept a while so that a resend is not published."""

    __tablename__ = "ingested_events"

    # No foreign key: the owner may leave the config; its ids only wait to be pruned.
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class ClipRow(Base):
    """A clip cut for export: who asked, why, and where the file that may leave the hub is."""

    __tablename__ = "clips"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # No foreign keys: a clip outlives its camera until retention purges it.
    camera_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    state: Mapped[str] = mapped_column(String(16))
    pre: Mapped[float] = mapped_column(Float)
    post: Mapped[float] = mapped_column(Float)
    purpose: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    frames: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    size: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column()


class SharingAgreementRow(Base):
    """What an owner shares of one camera or of all its cameras, for what, until when.

    Never edited in place: a change is a new agreement that cuts the one before it off
    (`revoked_at`, `superseded_by`), so that the history stays what owners and auditors read.
    """

    __tablename__ = "sharing_agreements"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # No foreign keys: an agreement is a record that outlives the camera and its owner.
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    # None: every camera of the owner that has no agreement of its own.
    camera_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    level: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    signed_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    recorded_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    live_minutes: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # In the future when a newer agreement takes over at its start.
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class InviteRow(Base):
    """An admin's invitation to an owner's first user; only the link's SHA-256 is kept."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # The link's token has 256 random bits: a plain digest finds it and gives nothing away.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # No foreign key, as for users: the owner may leave the config; the invite stays a record.
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    name: Mapped[str] = mapped_column(String(ID_LENGTH))
    email: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    revoked_at: Mapped[datetime | None] = mapped_column()


class MaskLiftRow(Base):
    """A camera shown without its privacy masks for a while: one person asks, another approves."""

    __tablename__ = "mask_lifts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # No foreign keys: a lift is a record that outlives the camera and its owner.
    camera_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    reason: Mapped[str] = mapped_column(Text)
    seconds: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Who asked, as the two-person rule compares them: a user's id, or the admin token.
    requester: Mapped[str] = mapped_column(String(NAME_LENGTH))
    requested_at: Mapped[datetime] = mapped_column(index=True)
    # An unanswered request lapses then.
    answer_by: Mapped[datetime] = mapped_column()
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    decided_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
