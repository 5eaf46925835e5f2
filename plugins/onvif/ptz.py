"""PTZ commands as ONVIF PTZ service requests (in the device's default generic spaces)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.vendors import PtzMove


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, float(value)))


def _vector(pan: float, tilt: float, zoom: float, zoom_low: float = -1.0) -> dict[str, Any]:
    return {
        "PanTilt": {"x": _clamp(pan, -1.0, 1.0), "y": _clamp(tilt, -1.0, 1.0)},
        "Zoom": {"x": _clamp(zoom, zoom_low, 1.0)},
    }


def _speed(move: PtzMove) -> dict[str, Any] | None:
    if move.speed is None:
        return None
    speed = _clamp(move.speed, 0.0, 1.0)
    return {"PanTilt": {"x": speed, "y": speed}, "Zoom": {"x": speed}}


def ptz_request(
    move: PtzMove, profile: str, presets: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The operation and its parameters for a move on a profile.

    `continuous`: pan/tilt/zoom are velocities, scaled by `speed` when given, ended by the
    device after `timeout`. `set_preset` overwrites the preset whose token is `move.preset`
    when `presets` (the existing tokens) has it, else stores a new one named `move.preset`.
    """
    params: dict[str, Any] = {"ProfileToken": profile}
    speed = _speed(move)
    if move.kind == "continuous":
        scale = 1.0 if move.speed is None else _clamp(move.speed, 0.0, 1.0)
        params["Velocity"] = _vector(move.pan * scale, move.tilt * scale, move.zoom * scale)
        if move.timeout is not None:
            params["Timeout"] = timedelta(seconds=max(0.0, move.timeout))
        return "ContinuousMove", params
    if move.kind == "relative":
        params["Translation"] = _vector(move.pan, move.tilt, move.zoom)
        if speed is not None:
            params["Speed"] = speed
        return "RelativeMove", params
    if move.kind == "absolute":
        params["Position"] = _vector(move.pan, move.tilt, move.zoom, zoom_low=0.0)
        if speed is not None:
            params["Speed"] = speed
        return "AbsoluteMove", params
    if move.kind == "stop":
        params.update(PanTilt=True, Zoom=True)
        return "Stop", params
    if move.kind == "home":
        if speed is not None:
            params["Speed"] = speed
        return "GotoHomePosition", params
    if move.kind in ("goto_preset", "set_preset"):
        if not move.preset:
            raise ValueError(f"PTZ {move.kind} needs a preset")
        if move.kind == "goto_preset":
            params["PresetToken"] = move.preset
            if speed is not None:
                params["Speed"] = speed
            return "GotoPreset", params
        if move.preset in (presets or []):
            params["PresetToken"] = move.preset
        else:
            params["PresetName"] = move.preset
        return "SetPreset", params
    raise ValueError(f"unknown PTZ move {move.kind!r}")
