"""Webhook ingest: the event ids owners' systems sent, so that a resend is published once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingested_events",
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "event_id", name="pk_ingested_events"),
    )
    op.create_index("ix_ingested_events_received_at", "ingested_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("ingested_events")
