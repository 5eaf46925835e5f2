"""Clips and retention: exported clips, and how long an owner's pictures are kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pre", sa.Float(), nullable=False),
        sa.Column("post", sa.Float(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_clips"),
    )
    for column in ("camera_id", "owner_id", "created_at"):
        op.create_index(f"ix_clips_{column}", "clips", [column])
    # A nullable column: SQLite adds it in place, no table rebuild.
    op.add_column("owners", sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("retention_days")
    op.drop_table("clips")
