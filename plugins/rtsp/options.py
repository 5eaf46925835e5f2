"""The `rtsp` vendor's options: whether the URL is a stream or a snapshot, and how often to poll.

`kind` defaults to a guess from the URL: an http(s) URL whose path ends in `.jpg` or `.jpeg`,
or whose path or query says `snapshot` or `picture` (`/cgi-bin/snapshot.cgi`,
`/ISAPI/Streaming/channels/102/picture`, `CGIProxy.fcgi?cmd=snapPicture2`) is a snapshot;
every other URL is a stream. `options.kind` overrides the guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from hub.streams.jpegsource import DEFAULT_INTERVAL

Kind = Literal["stream", "snapshot"]
KINDS: tuple[Kind, ...] = ("stream", "snapshot")
SNAPSHOT_SCHEMES = ("http", "https")
SNAPSHOT_WORDS = ("snapshot", "picture")
MIN_INTERVAL = 0.2
MAX_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class GenericOptions:
    """What a generic camera's options say, checked."""

    kind: Kind = "stream"
    snapshot_interval: float = DEFAULT_INTERVAL
    tls_verify: bool = True


def guess_kind(url: str) -> Kind:
    """`snapshot` for an http(s) URL that names a picture (see the module's docstring)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SNAPSHOT_SCHEMES:
        return "stream"
    path, query = parts.path.lower(), parts.query.lower()
    if path.endswith((".jpg", ".jpeg")):
        return "snapshot"
    if any(word in path or word in query for word in SNAPSHOT_WORDS):
        return "snapshot"
    return "stream"


def parse_options(url: str, options: Mapping[str, Any]) -> tuple[GenericOptions, list[str]]:
    """The options for a camera at `url`, and the problems with them in plain words."""
    problems: list[str] = []
    kind = options.get("kind", guess_kind(url))
    if kind not in KINDS:
        problems.append(f"options.kind must be 'stream' or 'snapshot', not {kind!r}")
        kind = "stream"
    scheme = urlsplit(url).scheme.lower()
    if kind == "snapshot" and scheme not in SNAPSHOT_SCHEMES:
        problems.append(f"a snapshot URL must be http:// or https://, not {scheme}://")

    interval = options.get("snapshot_interval", DEFAULT_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        problems.append(f"options.snapshot_interval must be a number of seconds, not {interval!r}")
        interval = DEFAULT_INTERVAL
    elif not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        problems.append(
            f"options.snapshot_interval must be {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds,"
            f" not {interval:g}"
        )
        interval = DEFAULT_INTERVAL
    if "snapshot_interval" in options and kind != "snapshot":
        problems.append("options.snapshot_interval is for snapshot URLs; this camera is a stream")

    tls_verify = options.get("tls_verify", True)
    if not isinstance(tls_verify, bool):
        problems.append(f"options.tls_verify must be true or false, not {tls_verify!r}")
        tls_verify = True
    elif "tls_verify" in options and kind != "snapshot":
        problems.append("options.tls_verify is for snapshot URLs; this camera is a stream")
    return GenericOptions(kind, float(interval), tls_verify), problems
