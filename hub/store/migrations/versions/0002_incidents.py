"""Incidents: incidents, their history, and the notification outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("dedup_key", name="uq_incidents_dedup_key"),
    )
    op.create_index("ix_incidents_rule_id", "incidents", ["rule_id"])
    op.create_index("ix_incidents_owner_id", "incidents", ["owner_id"])
    op.create_index("ix_incidents_camera_id", "incidents", ["camera_id"])
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "incident_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_history_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_history"),
    )
    op.create_index("ix_incident_history_incident_id", "incident_history", ["incident_id"])
    op.create_table(
        "notification_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("responder", sa.String(200), nullable=False),
        sa.Column("channel_url_encrypted", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment", sa.Text(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rate_key", sa.String(200), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("failover_group", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_notification_jobs_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_jobs"),
        sa.UniqueConstraint("idempotency_key", name="uq_notification_jobs_idempotency_key"),
    )
    op.create_index("ix_notification_jobs_incident_id", "notification_jobs", ["incident_id"])
    op.create_index("ix_notification_jobs_failover_group", "notification_jobs", ["failover_group"])
    op.create_index(
        "ix_notification_jobs_state_next_attempt_at",
        "notification_jobs",
        ["state", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_notification_jobs_state_next_attempt_at", table_name="notification_jobs")
    op.drop_index("ix_notification_jobs_failover_group", table_name="notification_jobs")
    op.drop_index("ix_notification_jobs_incident_id", table_name="notification_jobs")
    op.drop_table("notification_jobs")
    op.drop_index("ix_incident_history_incident_id", table_name="incident_history")
    op.drop_table("incident_history")
    op.drop_index("ix_incidents_state", table_name="incidents")
    op.drop_index("ix_incidents_camera_id", table_name="incidents")
    op.drop_index("ix_incidents_owner_id", table_name="incidents")
    op.drop_index("ix_incidents_rule_id", table_name="incidents")
    op.drop_table("incidents")
