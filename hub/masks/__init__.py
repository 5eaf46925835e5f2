"""Privacy mask lifts: two people to see a camera without its masks, for a while (docs/live.md)."""

from __future__ import annotations

from hub.masks.lifted import LiftedMasks
from hub.masks.service import (
    ANSWER_WITHIN,
    MAX_MINUTES,
    BadLift,
    LiftNotFound,
    LiftRefused,
    LiftState,
    MaskLift,
    MaskLifts,
    SamePerson,
)

__all__ = [
    "ANSWER_WITHIN",
    "MAX_MINUTES",
    "BadLift",
    "LiftNotFound",
    "LiftRefused",
    "LiftState",
    "LiftedMasks",
    "MaskLift",
    "MaskLifts",
    "SamePerson",
]
