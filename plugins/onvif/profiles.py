"""Media profiles: which video source (channel) each belongs to, and which is main or sub.

A device says which stream is which only by name, when at all (`mainStream`, `SubStream`);
otherwise, per channel, the profile with the most pixels is `main` and the one with the fewest
is `sub`. Profiles without a video encoder are not streams and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from hub.vendors import StreamProfile

Role = Literal["main", "sub", "other"]

_MAIN = re.compile(r"main|primary|major", re.IGNORECASE)
_SUB = re.compile(r"sub|second|minor", re.IGNORECASE)
_CODECS = {"h264": "h264", "h265": "hevc", "hevc": "hevc", "jpeg": "mjpeg", "mpeg4": "mpeg4"}


@dataclass(frozen=True, slots=True)
class MediaProfile:
    """What a GetProfiles answer says of one profile."""

    token: str
    name: str | None = None
    source: str | None = None
    """The video source token (its channel)."""
    source_configuration: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: int | None = None
    ptz: bool = False
    video: bool = False
    """Whether it has a video encoder, that is, whether it is a stream."""

    @property
    def pixels(self) -> int:
        """Width times height, 0 when unknown."""
        return (self.width or 0) * (self.height or 0)


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return str(value) if value is not None and str(value) else None


def read_profile(data: Mapping[str, Any]) -> MediaProfile | None:
    """One profile of a GetProfiles answer (as plain data); None without a token."""
    token = _text(data.get("token"))
    if token is None:
        return None
    encoder = data.get("VideoEncoderConfiguration")
    encoding = _text(_get(encoder, "Encoding"))
    return MediaProfile(
        token=token,
        name=_text(data.get("Name")),
        source=_text(_get(data, "VideoSourceConfiguration", "SourceToken")),
        source_configuration=_text(_get(data, "VideoSourceConfiguration", "token")),
        codec=_CODECS.get(encoding.lower(), encoding.lower()) if encoding else None,
        width=_int(_get(encoder, "Resolution", "Width")),
        height=_int(_get(encoder, "Resolution", "Height")),
        fps=_float(_get(encoder, "RateControl", "FrameRateLimit")),
        bitrate_kbps=_int(_get(encoder, "RateControl", "BitrateLimit")),
        ptz=data.get("PTZConfiguration") is not None,
        video=isinstance(encoder, Mapping),
    )


def read_profiles(answer: Any) -> list[MediaProfile]:
    """Every profile of a GetProfiles answer (as plain data) that has a token."""
    items = answer if isinstance(answer, list) else []
    profiles = [read_profile(item) for item in items if isinstance(item, Mapping)]
    return [profile for profile in profiles if profile is not None]


def channel_tokens(profiles: list[MediaProfile], sources: list[str]) -> dict[str, int]:
    """Video source and source configuration tokens by 1-based channel.

    Channels follow the device's GetVideoSources order (`sources`), then the order in which
    profiles first name a source.
    """
    order = list(dict.fromkeys([*sources, *(p.source for p in profiles if p.source)]))
    channels = {token: index for index, token in enumerate(order, start=1)}
    for profile in profiles:
        if profile.source in channels and profile.source_configuration:
            channels.setdefault(profile.source_configuration, channels[profile.source])
    return channels


def channel_of(profile: MediaProfile, channels: Mapping[str, int]) -> int:
    """The profile's channel; profiles naming no source belong to the first."""
    return channels.get(profile.source or "", 1)


def roles(profiles: list[MediaProfile]) -> dict[str, Role]:
    """`main`, `sub` or `other` for each profile of one channel (by token)."""
    video = [p for p in profiles if p.video]
    found: dict[str, Role] = {p.token: "other" for p in profiles}
    main = next((p for p in video if _MAIN.search(f"{p.name or ''} {p.token}")), None)
    sub = next(
        (p for p in video if p is not main and _SUB.search(f"{p.name or ''} {p.token}")), None
    )
    rest = [p for p in video if p is not main and p is not sub]
    if main is None and rest:
        main = max(rest, key=lambda p: p.pixels)  # the first of equals: max keeps the first
        rest.remove(main)
    if sub is None and rest:
        smallest = min(rest, key=lambda p: p.pixels)
        if main is None or smallest.pixels < main.pixels or not main.pixels:
            sub = smallest
    if main is not None:
        found[main.token] = "main"
    if sub is not None:
        found[sub.token] = "sub"
    return found


def stream_profiles(
    profiles: list[MediaProfile],
    channels: Mapping[str, int],
    urls: Mapping[str, str | None],
    snapshots: Mapping[str, str | None],
) -> list[StreamProfile]:
    """The device's streams: profiles with video, with their role in their channel."""
    by_channel: dict[int, list[MediaProfile]] = {}
    for profile in profiles:
        by_channel.setdefault(channel_of(profile, channels), []).append(profile)
    several = len(by_channel) > 1
    found: list[StreamProfile] = []
    for channel, members in sorted(by_channel.items()):
        role_of = roles(members)
        for profile in members:
            if not profile.video:
                continue
            found.append(
                StreamProfile(
                    token=profile.token,
                    url=urls.get(profile.token),
                    role=role_of[profile.token],
                    channel=channel if several else None,
                    name=profile.name,
                    codec=profile.codec,
                    width=profile.width,
                    height=profile.height,
                    fps=profile.fps,
                    bitrate_kbps=profile.bitrate_kbps,
                    snapshot_url=snapshots.get(profile.token),
                    ptz=profile.ptz,
                )
            )
    return found


def without_credentials(url: str | None) -> str | None:
    """A device-given URL without user info (some devices put their credentials in it)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if "@" not in parts.netloc:
        return url.strip()
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
