"""Dahua CGI answers: `key=value` lines, read into device information, channels and presets.

Devices differ in line endings (CRLF or LF), blank lines and whether config keys carry a
`table.` prefix; every reader here accepts all of them and ignores lines it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hub.vendors import ChannelInfo, PtzPreset

_INDEXED = re.compile(r"^(\w+)\[(\d{1,6})\]\.(\w+)$")
_ERROR = re.compile(r"^\s*error\b", re.IGNORECASE)


def key_values(text: str) -> dict[str, str]:
    """The `key=value` lines of an answer, keys without a `table.` prefix; the last one wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, has_value, value = line.partition("=")
        key = key.strip()
        if not has_value or not key:
            continue
        if key.startswith("table."):
            key = key[len("table.") :]
        values[key] = value.strip()
    return values


def is_error(text: str) -> bool:
    """Whether an answer is Dahua's `Error` (usually followed by `Bad Request!`)."""
    return bool(_ERROR.match(text))


def indexed(values: Mapping[str, str], table: str) -> dict[int, dict[str, str]]:
    """The entries of an indexed table, `Name[0].Field=...`, by index (table name any case)."""
    entries: dict[int, dict[str, str]] = {}
    wanted = table.lower()
    for key, value in values.items():
        found = _INDEXED.match(key)
        if found is not None and found.group(1).lower() == wanted:
            entries.setdefault(int(found.group(2)), {})[found.group(3)] = value
    return entries


def channel_titles(values: Mapping[str, str]) -> dict[int, str]:
    """The channel names of a `ChannelTitle` answer, by 0-based index; empty names left out."""
    return {
        index: fields["Name"]
        for index, fields in indexed(values, "ChannelTitle").items()
        if fields.get("Name")
    }


def max_remote_channels(values: Mapping[str, str]) -> int | None:
    """The `MaxRemoteInputChannels` of a `getProductDefinition` answer, if it is a number."""
    for key, value in values.items():
        if key.rsplit(".", 1)[-1].lower() == "maxremoteinputchannels" and value.isdigit():
            return int(value)
    return None


def channels(titles: Mapping[int, str], max_remote: int | None) -> tuple[ChannelInfo, ...]:
    """The device's channels (1-based): as many as it says or names, at least one."""
    count = max(max_remote or 0, max(titles, default=-1) + 1, 1)
    return tuple(ChannelInfo(index=i + 1, name=titles.get(i)) for i in range(count))


def presets(values: Mapping[str, str]) -> list[PtzPreset]:
    """The presets of a `ptz.cgi?action=getPresets` answer, in the device's order."""
    found: list[PtzPreset] = []
    for _, fields in sorted(indexed(values, "presets").items()):
        token = fields.get("Index", "").strip()
        if token:
            found.append(PtzPreset(token=token, name=fields.get("Name") or None))
    return found


def device_type(model: str | None) -> str | None:
    """`camera`, `nvr` or `dvr` from a Dahua model name, when the name tells."""
    if not model:
        return None
    upper = model.upper()
    if "NVR" in upper:
        return "nvr"
    if any(family in upper for family in ("XVR", "DVR", "HCVR")):
        return "dvr"
    if upper.startswith(("IPC", "SD", "DH-IPC", "DH-SD", "IP CAMERA", "VTO")):
        return "camera"
    return None
