"""Incidents: the dedup key is unique among open incidents only.

A resolved incident keeps its key; the same thing happening again in the same time bucket is
a new incident with the same key, which a plain unique constraint refused (and so lost).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state != 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incidents_dedup_key", type_="unique")
    op.create_index(
        "uq_incidents_open_dedup_key",
        "incidents",
        ["dedup_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    # Refuses (IntegrityError) when a key was reused after a resolve: such history cannot fit
    # the older schema, and dropping incidents to make it fit would lose them.
    op.drop_index("uq_incidents_open_dedup_key", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.create_unique_constraint("uq_incidents_dedup_key", ["dedup_key"])
