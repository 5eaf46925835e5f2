"""Registry: owners, sites, cameras, and per-day data usage.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "owners",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=True),
        sa.Column("contact_phone", sa.String(64), nullable=True),
        sa.Column("contact_email", sa.String(200), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        *timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_owners"),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name="fk_sites_owner_id_owners"),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_index("ix_sites_owner_id", "sites", ["owner_id"])
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(200), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("password_in_config", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name="fk_cameras_owner_id_owners"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_cameras_site_id_sites"),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
    )
    op.create_index("ix_cameras_owner_id", "cameras", ["owner_id"])
    op.create_index("ix_cameras_site_id", "cameras", ["site_id"])
    op.create_table(
        "data_usage",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bytes_received", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "day", name="pk_data_usage"),
    )


def downgrade() -> None:
    op.drop_table("data_usage")
    op.drop_index("ix_cameras_site_id", table_name="cameras")
    op.drop_index("ix_cameras_owner_id", table_name="cameras")
    op.drop_table("cameras")
    op.drop_index("ix_sites_owner_id", table_name="sites")
    op.drop_table("sites")
    op.drop_table("owners")
