"""PTZ moves as Dahua `ptz.cgi` commands: `action=start|stop`, a `code` and three arguments."""

from __future__ import annotations

from dataclasses import dataclass

from hub.vendors import PtzMove, Unsupported

SPEEDS = 8
"""Dahua's speeds run from 1 to 8."""
PAN_TILT_CODES = ("Left", "Right", "Up", "Down", "LeftUp", "RightUp", "LeftDown", "RightDown")
ZOOM_CODES = ("ZoomTele", "ZoomWide")
STOP_ALL = ("Left", "ZoomTele")
"""What a stop sends when no move is known: one pan/tilt code stops pan and tilt, one zoom zoom."""


@dataclass(frozen=True, slots=True)
class PtzCommand:
    """One request to `ptz.cgi`."""

    action: str
    code: str
    arg1: int = 0
    arg2: int = 0
    arg3: int = 0

    def query(self, channel: int) -> dict[str, str]:
        """The request's query for a channel."""
        return {
            "action": self.action,
            "channel": str(channel),
            "code": self.code,
            "arg1": str(self.arg1),
            "arg2": str(self.arg2),
            "arg3": str(self.arg3),
        }


def dahua_speed(value: float) -> int:
    """A speed in [0, 1] as Dahua's 1 to 8."""
    return max(1, min(SPEEDS, round(abs(value) * SPEEDS)))


def start_commands(move: PtzMove) -> list[PtzCommand]:
    """The commands that start a continuous move; empty when nothing moves."""
    commands: list[PtzCommand] = []
    horizontal = "Left" if move.pan < 0 else "Right" if move.pan > 0 else ""
    vertical = "Up" if move.tilt > 0 else "Down" if move.tilt < 0 else ""
    if horizontal or vertical:
        strength = move.speed if move.speed is not None else max(abs(move.pan), abs(move.tilt))
        speed = dahua_speed(strength)
        code = horizontal + vertical
        # Diagonal codes take the vertical speed in arg1 and the horizontal one in arg2.
        arg1 = speed if horizontal and vertical else 0
        commands.append(PtzCommand("start", code, arg1, speed, 0))
    if move.zoom:
        code = "ZoomTele" if move.zoom > 0 else "ZoomWide"
        strength = move.speed if move.speed is not None else move.zoom
        commands.append(PtzCommand("start", code, 0, dahua_speed(strength), 0))
    return commands


def stop_commands(moving: set[str]) -> list[PtzCommand]:
    """The commands that stop the moves started with `moving` codes (all, if none is known)."""
    codes = sorted(moving) if moving else list(STOP_ALL)
    return [PtzCommand("stop", code) for code in codes]


def preset_number(move: PtzMove) -> int:
    """The preset a goto or set names; Dahua presets are numbers from 1."""
    token = (move.preset or "").strip()
    if not token.isdigit() or int(token) < 1:
        raise Unsupported(f"Dahua presets are numbers from 1, got {move.preset!r}")
    return int(token)


def preset_command(move: PtzMove) -> PtzCommand:
    """Go to (`goto_preset`) or store (`set_preset`) a preset."""
    code = "GotoPreset" if move.kind == "goto_preset" else "SetPreset"
    return PtzCommand("start", code, 0, preset_number(move), 0)
