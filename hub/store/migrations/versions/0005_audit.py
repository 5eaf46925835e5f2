"""The audit log: one hash-chained, append-only table (docs/audit.md).

A trigger on each backend refuses UPDATE and DELETE of a record, so that no code path (nor a
mistyped query) changes history; the hash chain is what catches whoever disables it. TRUNCATE
is left alone: the tests empty every table with it, and the chain's anchor catches it anyway.
On SQLite a later migration that rebuilds this table in batch mode drops the trigger with the
old table: such a migration must create it again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "audit records are append-only"

POSTGRES_UP = (
    f"""
    CREATE FUNCTION audit_records_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSAL}';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_records_append_only
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()
    """,
)
POSTGRES_DOWN = "DROP FUNCTION IF EXISTS audit_records_append_only()"
SQLITE_UP = tuple(
    f"""
    CREATE TRIGGER audit_records_no_{verb.lower()}
    BEFORE {verb} ON audit_records
    BEGIN
        SELECT RAISE(ABORT, '{REFUSAL}');
    END
    """
    for verb in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_records"),
    )
    for column in ("time", "action", "camera_id", "owner_id"):
        op.create_index(f"ix_audit_records_{column}", "audit_records", [column])
    dialect = op.get_bind().dialect.name
    statements = {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}.get(dialect, ())
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # Dropping the table drops its triggers on both backends; PostgreSQL keeps the function.
    op.drop_table("audit_records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_DOWN)
