"""Owner onboarding: invitations an admin sends to an owner's first user.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # placeholder, filled in by the change that needs it


def downgrade() -> None:
    pass
