"""Privacy mask lifts: asked by one person, approved by another, expiring.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # placeholder, filled in by the change that needs it


def downgrade() -> None:
    pass
