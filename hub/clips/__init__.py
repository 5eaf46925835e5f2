"""Clips that leave the hub, and how long pictures are kept.

`ClipService` cuts a clip in the background (the camera's pre-roll and `post` seconds more),
burns the camera's privacy masks into it (`hub.streams.export`) and keeps it in the catalog
(`ClipCatalog`); `RetentionPurge` deletes clips and spooled alert pictures older than their
camera's retention, once at start and then hourly.
"""

from hub.clips.catalog import ClipCatalog, ClipRecord, ClipState
from hub.clips.retention import (
    PurgeReport,
    Retention,
    RetentionPurge,
    retention_option,
    retention_problems,
)
from hub.clips.service import ClipService, TooManyClips

__all__ = [
    "ClipCatalog",
    "ClipRecord",
    "ClipService",
    "ClipState",
    "PurgeReport",
    "Retention",
    "RetentionPurge",
    "TooManyClips",
    "retention_option",
    "retention_problems",
]
