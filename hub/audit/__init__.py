"""The audit log: who looked at or changed what, when, from where and why; hash-chained.

See docs/audit.md for what is recorded, the record's fields, the chain and its anchors.
"""

from __future__ import annotations

from hub.audit.chain import GENESIS, HUB, Action, Actor, ActorKind, AuditRecord
from hub.audit.export import csv_lines
from hub.audit.log import (
    ANCHOR_FILE,
    AuditError,
    AuditLog,
    Flaw,
    Problem,
    PurposeMissing,
    Verification,
)
from hub.audit.recorder import AuditRecorder

__all__ = [
    "ANCHOR_FILE",
    "GENESIS",
    "HUB",
    "Action",
    "Actor",
    "ActorKind",
    "AuditError",
    "AuditLog",
    "AuditRecord",
    "AuditRecorder",
    "Flaw",
    "Problem",
    "PurposeMissing",
    "Verification",
    "csv_lines",
]
