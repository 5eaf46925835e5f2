"""Pantau's store: SQLAlchemy models, the `Database` handle and Alembic migrations."""

from hub.store.database import Database, alembic_config, unbroken
from hub.store.models import Base, CameraRow, DataUsageRow, OwnerRow, SiteRow

__all__ = [
    "Base",
    "CameraRow",
    "DataUsageRow",
    "Database",
    "OwnerRow",
    "SiteRow",
    "alembic_config",
    "unbroken",
]
