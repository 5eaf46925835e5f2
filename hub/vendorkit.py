"""Helpers for vendor plugin authors: logging bad payloads safely, and JSON-ready raw data."""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

SAMPLE_CHARS = 300
"""How much of a bad payload a log line shows."""


def sample(payload: bytes | str, limit: int = SAMPLE_CHARS) -> str:
    """A short printable excerpt of a payload for a log line."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    text = payload if len(payload) <= limit else payload[:limit] + f"... ({len(payload)} chars)"
    return text.encode("unicode_escape", errors="replace").decode("ascii")


class PayloadLog:
    """What one device session logs about payloads it could not use.

    A malformed payload is logged (camera name, what it was, the error, a sample) at most once
    every `every` seconds per `what`, with a count of those not logged; an unknown topic is
    logged once per topic with a sample. Nothing here ever raises.
    """

    def __init__(self, logger: logging.Logger, camera: str, every: float = 60.0) -> None:
        self.logger = logger
        self.camera = camera
        self.every = every
        self.malformed_count = 0
        self.unknown_topics: set[str] = set()
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def malformed(self, what: str, payload: bytes | str, error: BaseException | str) -> None:
        """Log a payload that was skipped because it could not be understood."""
        self.malformed_count += 1
        now = time.monotonic()
        last = self._last.get(what)
        if last is not None and now - last < self.every:
            self._quiet[what] = self._quiet.get(what, 0) + 1
            return
        self._last[what] = now
        skipped = self._quiet.pop(what, 0)
        more = f" ({skipped} more since the last report)" if skipped else ""
        self.logger.warning(
            "camera %r: skipped a malformed %s: %s%s; sample: %s",
            self.camera,
            what,
            error,
            more,
            sample(payload),
        )

    def ignored(self, what: str, payload: bytes | str, reason: str) -> None:
        """A payload that was understood but gives no event (a state report): debug level only."""
        self.logger.debug("camera %r: no event from %s: %s", self.camera, what, reason)

    def unknown_topic(self, topic: str, payload: bytes | str | Mapping[str, Any]) -> bool:
        """Log a topic no parser knows, once; True the first time it is seen."""
        if topic in self.unknown_topics:
            return False
        self.unknown_topics.add(topic)
        text = payload if isinstance(payload, bytes | str) else repr(dict(payload))
        self.logger.info(
            "camera %r: unknown event topic %r, delivered as raw; sample: %s",
            self.camera,
            topic,
            sample(text),
        )
        return True


def json_ready(value: Any, depth: int = 0) -> Any:
    """`value` made of JSON types only (str, int, float, bool, None, lists, dicts with str keys)."""
    if depth > 20:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(key): json_ready(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(item, depth + 1) for item in value]
    return str(value)


def event_problems(event: object) -> list[str]:
    """What is wrong with an event a vendor plugin yields; empty if it is a proper one."""
    from hub.vendors import EVENT_KINDS, CameraEvent

    if not isinstance(event, CameraEvent):
        return [f"events() yielded a {type(event).__name__}, not a CameraEvent"]
    problems = []
    if event.kind not in EVENT_KINDS:
        problems.append(f"kind {event.kind!r} is not one of {', '.join(EVENT_KINDS)}")
    if event.state not in ("start", "end", "pulse"):
        problems.append(f"state {event.state!r} is not start, end or pulse")
    if not event.raw_topic:
        problems.append("raw_topic is empty: keep the vendor's own topic for diagnosis")
    if event.object not in (None, "person", "vehicle"):
        problems.append(f"object {event.object!r} is not person, vehicle or None")
    if event.channel is not None and (not isinstance(event.channel, int) or event.channel < 1):
        problems.append(f"channel {event.channel!r} is not a 1-based number")
    if json_ready(event.raw) != event.raw:
        problems.append("raw is not JSON-ready: pass it through hub.vendorkit.json_ready")
    return problems


async def listen_to(session: Any, seconds: float) -> tuple[list[Any], Exception | None]:
    """The events a device session gives within `seconds`, and what ended them early.

    The error is None when the time ran out; the event stream is closed either way.
    """
    events: list[Any] = []
    error: Exception | None = None
    stream = session.events()
    try:
        async with asyncio.timeout(seconds):
            async for event in stream:
                events.append(event)
    except TimeoutError:
        pass
    except Exception as exc:  # the caller says what it means
        error = exc
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    return events, error


async def session_problems(
    session: Any, password: str | None, listen: float = 2.0, events_expected: int = 0
) -> list[str]:
    """Run a device session through everything it offers; the problems found, in plain words.

    For plugin authors' tests, against a test device of their own: information, streams,
    snapshot and `listen` seconds of events (at least `events_expected` of them), each checked
    for what the hub relies on: the right types, only `VendorError`s raised, JPEG snapshots,
    credential-free URLs and errors.
    """
    from hub.vendors import DeviceInfo, StreamProfile, VendorError

    problems: list[str] = []

    def secret_in(text: object) -> bool:
        return password is not None and password != "" and password in str(text)

    async def call(name: str, action: Any) -> Any:
        try:
            return await action()
        except VendorError as exc:
            if secret_in(exc):
                problems.append(f"{name}: the error message holds the password")
            problems.append(f"{name} failed: {exc}")
        except Exception as exc:
            problems.append(f"{name} raised {type(exc).__name__}, not a VendorError: {exc}")
        return None

    info = await call("device_info", session.device_info)
    if info is not None and not isinstance(info, DeviceInfo):
        problems.append(f"device_info gave a {type(info).__name__}, not a DeviceInfo")
    profiles = await call("streams", session.streams)
    for profile in profiles or ():
        if not isinstance(profile, StreamProfile):
            problems.append(f"streams gave a {type(profile).__name__}, not a StreamProfile")
        elif profile.url and (
            "@" in profile.url.split("/")[2:3][0] if "//" in profile.url else False
        ):
            problems.append(f"stream {profile.token}: the url holds credentials")
        elif secret_in(profile.url):
            problems.append(f"stream {profile.token}: the url holds the password")
    jpeg = await call("snapshot", session.snapshot)
    if jpeg is not None and not (isinstance(jpeg, bytes) and jpeg.startswith(b"\xff\xd8")):
        problems.append("snapshot is not JPEG bytes")
    events, error = await listen_to(session, listen)
    for seen, event in enumerate(events, 1):
        problems.extend(f"event {seen}: {p}" for p in event_problems(event))
    if isinstance(error, VendorError):
        problems.append(f"events failed: {error}")
    elif error is not None:
        problems.append(f"events raised {type(error).__name__}, not a VendorError: {error}")
    seen = len(events)
    if seen < events_expected:
        problems.append(f"events: {seen} in {listen:g} s, expected at least {events_expected}")
    await session.close()
    await session.close()  # twice must be safe
    return problems


def option_typos(options: Mapping[str, Any], known: Sequence[str]) -> list[str]:
    """Problems for the camera options that look like a misspelt one of `known`.

    A camera's options also hold the hub's own keys (health, activity, zones, masks,
    monitor_stream, events, ...), so only a near miss of a vendor's option is reported.
    """
    problems = []
    for key in options:
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.75)
        if key not in known and close:
            problems.append(f"unknown option {key!r} (did you mean {close[0]!r}?)")
    return problems
