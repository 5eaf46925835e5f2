"""Clips and retention: exported clips, and how long an owner's pictures are kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # placeholder, filled in by the change that needs it


def downgrade() -> None:
    pass
