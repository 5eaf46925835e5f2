"""The generic `rtsp` vendor: which URLs are streams and which are snapshots, and its options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.config import CameraConfig
from hub.registry import CameraRecord
from hub.streams.avsource import AvSource
from hub.streams.jpegsource import JpegPollSource
from hub.streams.rtsp import RtspSource
from hub.streams.units import SourceError, SourceFailure
from hub.vendors import StreamingVendor
from plugins.rtsp.camera import GenericStreamVendor, RefusedSource
from plugins.rtsp.options import guess_kind
from tests.plugin_kit import camera_record

VENDOR = GenericStreamVendor()


def config(url: str | None, **options: Any) -> CameraConfig:
    fields: dict[str, Any] = {"id": "pasar", "name": "Pasar", "owner": "dishub", "url": url}
    if url is None:
        fields["host"] = "10.0.0.9"
    return CameraConfig.model_validate({**fields, "options": options})


def record(url: str, **options: Any) -> CameraRecord:
    return camera_record(
        id="pasar",
        name="Pasar Kliwon",
        url=url,
        username="pemantau",
        has_password=True,
        options=options,
    )


def test_is_a_streaming_vendor() -> None:
    assert isinstance(VENDOR, StreamingVendor)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://10.0.0.9/Streaming/Channels/102", "stream"),
        ("rtsps://10.0.0.9/live/picture", "stream"),  # only http(s) can be a snapshot
        ("http://10.0.0.9/video.mjpg", "stream"),
        ("http://10.0.0.9/axis-cgi/mjpg/video.cgi", "stream"),
        ("https://10.0.0.9/live.ts", "stream"),
        ("file:///srv/footage/snapshot.mp4", "stream"),
        ("http://10.0.0.9/snap.jpg", "snapshot"),
        ("http://10.0.0.9/images/LATEST.JPEG", "snapshot"),
        ("http://10.0.0.9/cgi-bin/snapshot.cgi?channel=1", "snapshot"),
        ("http://10.0.0.9/ISAPI/Streaming/channels/102/picture", "snapshot"),
        ("http://10.0.0.9/cgi-bin/CGIProxy.fcgi?cmd=snapPicture2", "snapshot"),
    ],
)
def test_guess_kind(url: str, kind: str) -> None:
    assert guess_kind(url) == kind


def test_a_plain_camera_has_no_problems() -> None:
    assert VENDOR.check_camera(config("rtsp://10.0.0.9/live")) == []
    assert VENDOR.check_camera(config("http://10.0.0.9/snap.jpg", snapshot_interval=3)) == []
    assert VENDOR.check_camera(config("http://10.0.0.9/video.cgi", kind="snapshot")) == []


def test_a_camera_needs_a_url() -> None:
    assert VENDOR.check_camera(config(None)) == [
        "vendor 'rtsp' needs a url (host and port alone do not say which stream)"
    ]


@pytest.mark.parametrize(
    ("url", "options", "problem"),
    [
        ("http://cam/a", {"kind": "picture"}, "options.kind must be 'stream' or 'snapshot'"),
        ("rtsp://cam/a", {"kind": "snapshot"}, "a snapshot URL must be http:// or https://"),
        ("http://cam/a.jpg", {"snapshot_interval": "2s"}, "must be a number of seconds"),
        ("http://cam/a.jpg", {"snapshot_interval": True}, "must be a number of seconds"),
        ("http://cam/a.jpg", {"snapshot_interval": 0}, "must be 0.2 to 3600 seconds, not 0"),
        ("http://cam/a.mjpg", {"snapshot_interval": 2}, "snapshot_interval is for snapshot"),
        ("http://cam/a.jpg", {"tls_verify": "no"}, "options.tls_verify must be true or false"),
        ("https://cam/a.ts", {"tls_verify": False}, "tls_verify is for snapshot URLs"),
    ],
)
def test_options_problems_in_plain_words(url: str, options: dict[str, Any], problem: str) -> None:
    problems = VENDOR.check_camera(config(url, **options))
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_slow_snapshot_needs_no_health_settings_the_worker_stretches_them() -> None:
    # the worker judges a source of 0.1 fps over several pictures (HealthSettings.for_rate)
    assert VENDOR.check_camera(config("http://cam/a.jpg", snapshot_interval=10)) == []


def test_stream_source_by_kind(tmp_path: Path) -> None:
    rtsp = VENDOR.stream_source(record("rtsp://10.0.0.9/live"), "sandi", tmp_path)
    assert isinstance(rtsp, RtspSource)
    mjpeg = VENDOR.stream_source(record("http://10.0.0.9/video.mjpg"), "sandi", tmp_path)
    assert isinstance(mjpeg, AvSource)
    snapshot = VENDOR.stream_source(
        record("http://10.0.0.9/cgi-bin/snapshot.cgi?channel=1", snapshot_interval=4),
        "sandi",
        tmp_path,
    )
    assert isinstance(snapshot, JpegPollSource)
    assert snapshot.interval == 4.0 and snapshot.camera == "Pasar Kliwon"
    assert snapshot.url == "http://10.0.0.9/cgi-bin/snapshot.cgi"  # a query may hold a token
    forced = VENDOR.stream_source(record("http://10.0.0.9/snap.jpg", kind="stream"), None, tmp_path)
    assert isinstance(forced, AvSource)


async def test_wrong_options_make_a_source_that_says_why(tmp_path: Path) -> None:
    source = VENDOR.stream_source(record("rtsp://10.0.0.9/live", kind="snapshot"), None, tmp_path)
    assert isinstance(source, RefusedSource)
    with pytest.raises(SourceError) as caught:
        await source.open()
    await source.close()
    assert caught.value.kind is SourceFailure.UNSUPPORTED
    assert "a snapshot URL must be http:// or https://, not rtsp://" in str(caught.value)
