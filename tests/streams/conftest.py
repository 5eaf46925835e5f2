"""Stream fixtures: a real GStreamer RTSP server playing test cameras, and the test footage."""

from __future__ import annotations

import itertools
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parent / "fixtures" / "media"
CAR_VIDEO = MEDIA / "car-detection.mp4"
SERVER_SCRIPT = HERE / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"

RTSP_USER = "operator"
RTSP_PASSWORD = "Kata-Sandi-Rahasia-77"
"""The test server's password: tests check that it never shows up anywhere."""

MISSING_GSTREAMER = (
    "GStreamer RTSP server not installed: apt-get install gstreamer1.0-rtsp"
    " gir1.2-gst-rtsp-server-1.0 python3-gst-1.0"
    " gstreamer1.0-plugins-{base,good,ugly}"
)
REPLY_TIMEOUT = 30.0


def _skip_or_fail(reason: str) -> None:
    """Skip where GStreamer may be missing, but fail in CI, which installs it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _gstreamer_available() -> bool:
    try:
        probe = subprocess.run(
            [
                SYSTEM_PYTHON,
                "-c",
                "import gi; gi.require_version('GstRtspServer', '1.0');"
                " from gi.repository import GstRtspServer",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


class RtspTestServer:
    """The running `rtsp_server.py`: add and remove mounts, build their URLs."""

    _names = itertools.count(1)

    def __init__(self, process: subprocess.Popen[str], port: int, auth_port: int) -> None:
        self.process = process
        self.port = port
        self.auth_port = auth_port
        self.user = RTSP_USER
        self.password = RTSP_PASSWORD
        self._replies: queue.Queue[str] = queue.Queue()
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._replies.put(line.rstrip("\n"))
        self._replies.put("error server exited")

    def command(self, line: str) -> str:
        """Send one command line; its answer after `ok `. Raises RuntimeError on `error`."""
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            reply = self._replies.get(timeout=REPLY_TIMEOUT)
        if not reply.startswith("ok"):
            raise RuntimeError(f"rtsp_server: {line!r} -> {reply}")
        return reply[3:]

    def add_mount(self, name: str | None = None, kind: str = "testsrc", **params: object) -> str:
        """Serve a camera at a new mount (a fresh name when none is given); its URL."""
        name = name or f"cam{next(self._names)}"
        settings = " ".join(f"{key}={value}" for key, value in params.items())
        url = self.command(f"add {name} {kind} {settings}".strip())
        self._urls[name] = url
        return url

    def remove_mount(self, name: str) -> None:
        """Take a mount away and cut its clients, like a camera that died."""
        self.command(f"remove {name}")

    def url(self, name: str, *, credentials: tuple[str, str] | None = None) -> str:
        """The URL of a mount, with user info when `credentials` are given."""
        url = self._urls[name]
        if credentials is None:
            return url
        user, password = credentials
        return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)

    def set_auth(self, methods: str) -> None:
        """Which schemes protected mounts offer: basic, digest or both."""
        self.command(f"auth {methods}")

    def stop(self) -> None:
        try:
            self.command("quit")
            self.process.wait(timeout=5)
        except (RuntimeError, OSError, queue.Empty, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=5)
        self._reader.join(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture(scope="session")
def rtsp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspTestServer]:
    """A GStreamer RTSP server for the session (system Python, GstRtspServer)."""
    if not Path(SYSTEM_PYTHON).exists() or not _gstreamer_available():
        _skip_or_fail(MISSING_GSTREAMER)
    log_path = tmp_path_factory.mktemp("rtsp-server") / "server.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(SERVER_SCRIPT),
                "--port=0",
                "--auth-port=0",
                f"--user={RTSP_USER}",
                f"--password={RTSP_PASSWORD}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            bufsize=1,
        )
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    if len(ready) != 3 or ready[0] != "ready":
        process.kill()
        process.wait()
        pytest.fail(f"rtsp_server.py did not start: {ready}; see {log_path}")
    server = RtspTestServer(process, int(ready[1]), int(ready[2]))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def car_video() -> Path:
    """30 s of road traffic, 768x432, 12.5 fps, H.264 in MP4 (see fixtures/media/README.md)."""
    return CAR_VIDEO
