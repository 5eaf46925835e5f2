"""Sharing agreements: what each owner shares, for what purpose, until when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sharing_agreements",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("live_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sharing_agreements"),
    )
    op.create_index("ix_sharing_agreements_owner_id", "sharing_agreements", ["owner_id"])
    op.create_index("ix_sharing_agreements_camera_id", "sharing_agreements", ["camera_id"])


def downgrade() -> None:
    op.drop_index("ix_sharing_agreements_camera_id", table_name="sharing_agreements")
    op.drop_index("ix_sharing_agreements_owner_id", table_name="sharing_agreements")
    op.drop_table("sharing_agreements")
