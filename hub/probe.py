"""Probe a camera: can the hub reach it, what is it, what does it stream, what does it send.

`pantau probe CAMERA` (and later the owners' onboarding page) runs these steps one after the
other and reports each: passed, failed with the reason in plain words, or skipped because the
vendor cannot do it. Nothing here raises for a camera's fault, and no step's text ever holds the
camera's password.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hub.registry import CameraRecord, CameraSource, split_credentials
from hub.streams.pictures import jpeg_size
from hub.streams.units import SourceError
from hub.vendorkit import listen_to
from hub.vendors import (
    CameraAccess,
    CameraEvent,
    CameraVendor,
    DeviceSession,
    DeviceVendor,
    DiscoveredDevice,
    DiscoveringVendor,
    StreamingVendor,
    VendorError,
    pick_stream,
)

T = TypeVar("T")


@dataclass
class ProbeStep:
    """One step: `ok` is None when skipped."""

    name: str
    ok: bool | None
    detail: str
    seconds: float = 0.0


@dataclass
class ProbeReport:
    """What a probe found."""

    camera_id: str
    vendor: str
    steps: list[ProbeStep] = field(default_factory=list)
    device: dict[str, Any] | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every step that ran passed."""
        return all(step.ok is not False for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "ok": self.ok}


class _Steps:
    def __init__(self, report: ProbeReport, password: str | None, timeout: float) -> None:
        self.report = report
        self.password = password
        self.timeout = timeout

    def _clean(self, text: str) -> str:
        if self.password:
            text = text.replace(self.password, "***")
        return text

    def skip(self, name: str, why: str) -> None:
        self.report.steps.append(ProbeStep(name, None, why))

    async def run(
        self,
        name: str,
        action: Callable[[], Awaitable[T]],
        describe: Callable[[T], str],
        extra_time: float = 0.0,
    ) -> T | None:
        started = time.monotonic()
        limit = self.timeout + extra_time
        try:
            async with asyncio.timeout(limit):
                result = await action()
        except TimeoutError:
            detail, value, ok = f"no answer within {limit:g} s", None, False
        except (VendorError, SourceError) as exc:
            detail, value, ok = f"{type(exc).__name__}: {exc}", None, False
        except Exception as exc:  # a plugin bug is a failed step, not a crashed probe
            detail, value, ok = f"unexpected {type(exc).__name__}: {exc}", None, False
        else:
            detail, value, ok = describe(result), result, True
        self.report.steps.append(
            ProbeStep(name, ok, self._clean(detail), round(time.monotonic() - started, 3))
        )
        return value


_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\s\[\]]+))(?::(?P<port>\d{1,5}))?$"
)


def unregistered_camera(
    vendor: str,
    target: str,
    *,
    username: str | None = None,
    password: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[CameraRecord, str | None]:
    """A camera that is not in the registry, for `pantau probe VENDOR URL`, and its password.

    `target` is a URL (`rtsp://`, `http://`, ...; a user and password in it are split out) or a
    bare `host` or `host:port`. Raises ValueError, in plain words, when it is neither, or when
    the URL's credentials disagree with `username` and `password`.
    """
    url: str | None = None
    host: str | None = None
    port: int | None = None
    if "://" in target:
        url, url_user, url_password = split_credentials(target)
        for given, found, what in (
            (username, url_user, "user"),
            (password, url_password, "password"),
        ):
            if given is not None and found is not None and given != found:
                raise ValueError(f"the url names another {what} than the one given")
        username = username or url_user
        password = password or url_password
    else:
        match = _HOST_PORT.match(target.strip())
        if match is None:
            raise ValueError(
                f"{target!r} is neither a URL (rtsp://..., http://...) nor a host or host:port"
            )
        host = match["v6"] or match["host"]
        if match["port"] is not None:
            port = int(match["port"])
            if not 1 <= port <= 65535:
                raise ValueError(f"port must be between 1 and 65535, got {port}")
    now = datetime.now(UTC)
    record = CameraRecord(
        id="probe",
        name=f"probe of {host or url}",
        owner="probe",
        site=None,
        vendor=vendor,
        url=url,
        host=host,
        port=port,
        username=username,
        has_password=password is not None,
        lat=None,
        lon=None,
        tags=(),
        enabled=True,
        options=dict(options or {}),
        source=CameraSource.API,
        created_at=now,
        updated_at=now,
    )
    return record, password


def settings_problems(vendor: CameraVendor, camera: CameraRecord) -> list[str]:
    """What `vendor` finds wrong with an unregistered camera's settings, as for a config one."""
    from hub.config.models import CameraConfig

    return vendor.check_camera(
        CameraConfig(
            id=camera.id,
            name=camera.name,
            owner=camera.owner,
            vendor=camera.vendor,
            url=camera.url,
            host=camera.host,
            port=camera.port,
            username=camera.username,
            options=dict(camera.options),
        )
    )


def _jpeg_detail(jpeg: bytes) -> str:
    try:
        width, height = jpeg_size(jpeg)
    except ValueError as exc:
        raise VendorError(f"the snapshot is not a JPEG ({exc})") from exc
    return f"JPEG {width}x{height}, {len(jpeg)} bytes"


async def _listen(session: DeviceSession, seconds: float) -> list[CameraEvent]:
    events, error = await listen_to(session, seconds)
    if error is not None:
        raise error
    return events


async def probe_camera(
    camera: CameraRecord,
    password: str | None,
    vendor: CameraVendor,
    data_dir: Path,
    *,
    listen: float = 0.0,
    step_timeout: float = 10.0,
) -> ProbeReport:
    """Run every step the vendor supports against one camera, each within `step_timeout` s."""
    timeout = step_timeout
    report = ProbeReport(camera.id, camera.vendor)
    steps = _Steps(report, password, timeout)
    if isinstance(vendor, DeviceVendor):
        session = vendor.connect(CameraAccess.of(camera, password, timeout=timeout))
        try:
            info = await steps.run(
                "device",
                session.device_info,
                lambda i: (
                    " ".join(
                        str(part)
                        for part in (
                            i.manufacturer,
                            i.model,
                            i.firmware and f"firmware {i.firmware}",
                        )
                        if part
                    )
                    + (f", {len(i.channels)} channels" if len(i.channels) > 1 else "")
                ),
            )
            if info is not None:
                report.device = asdict(info)
            profiles = await steps.run(
                "streams",
                session.streams,
                lambda p: (
                    "; ".join(
                        f"{s.role} {s.token}: {s.codec or '?'} {s.width or '?'}x{s.height or '?'}"
                        for s in p
                    )
                    or "none offered"
                ),
            )
            if profiles:
                report.streams = [asdict(p) for p in profiles]
                chosen = pick_stream(profiles, "monitoring", camera.options.get("monitor_stream"))
                if chosen is not None:
                    steps.skip("monitoring stream", f"{chosen.role} {chosen.token} ({chosen.url})")
            channel = camera.options.get("channel")
            await steps.run(
                "snapshot",
                lambda: session.snapshot(channel if isinstance(channel, int) else None),
                _jpeg_detail,
            )
            if listen > 0:
                events = await steps.run(
                    "events",
                    lambda: _listen(session, listen),
                    lambda e: (
                        f"{len(e)} in {listen:g} s"
                        + (
                            ": " + ", ".join(sorted({f"{x.kind} {x.state}" for x in e}))
                            if e
                            else ""
                        )
                    ),
                    extra_time=listen,
                )
                report.events = [
                    {**asdict(e), "time": e.time.isoformat() if e.time else None}
                    for e in events or []
                ]
            else:
                steps.skip("events", "not listened to (--listen SECONDS)")
        finally:
            await session.close()
    else:
        steps.skip("device", f"vendor {camera.vendor!r} does not talk to the device itself")
    if isinstance(vendor, StreamingVendor):
        source = vendor.stream_source(camera, password, data_dir)
        try:
            await steps.run(
                "stream",
                source.open,
                lambda i: (
                    f"{i.codec} {i.width or '?'}x{i.height or '?'}"
                    + (f" at {i.fps:g} fps" if i.fps else "")
                ),
            )
        finally:
            await source.close()
    else:
        steps.skip("stream", f"vendor {camera.vendor!r} offers no stream")
    return report


async def discover(
    vendors: dict[str, CameraVendor], wait: float = 3.0
) -> tuple[list[DiscoveredDevice], list[str]]:
    """Ask every vendor that can to look for devices; the devices, and what failed."""
    finders = {n: v for n, v in vendors.items() if isinstance(v, DiscoveringVendor)}
    results = await asyncio.gather(
        *(v.discover(wait) for v in finders.values()), return_exceptions=True
    )
    found: list[DiscoveredDevice] = []
    problems: list[str] = []
    for name, result in zip(finders, results, strict=True):
        if isinstance(result, BaseException):
            problems.append(f"{name}: {type(result).__name__}: {result}")
        else:
            found.extend(result)
    return found, problems
