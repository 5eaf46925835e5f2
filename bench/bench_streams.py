"""Benchmark: CPU and memory per camera of the hub's stream engine, against one ffmpeg per camera.

Run: python bench/bench_streams.py [--cameras 25,50,100] [--seconds 60] [--quick] [--repeat 1]
                                   [--mounts 4] [--baseline-cameras 10] [--baseline-seconds S]
                                   [--settle 10] [--learn 60] [--py-spy] [--strict]
                                   [--cache-dir DIR] [--encode camera|ultrafast]

A GStreamer RTSP server (tests/streams/rtsp_server.py, system Python) plays the test footage as
a typical camera sends it (1280x720, 15 fps, 2 Mbit/s, 2 s GOP) on K = --mounts shared mounts,
and the N cameras are spread over them round-robin (camera i on mount i mod K). Every mount
plays the same footage, but mount i starts i/K of the way into it (at the nearest keyframe), so
activity episodes, and with them T3, come at different times on different cameras, as in a
city, instead of on all N cameras at once. The footage is encoded ONCE, before the run, with
ffmpeg as a camera encodes (--encode camera: H.264 Main profile, CABAC, deblocking, no
B-frames; bench/streams_support/footage.py; cached, by default under
~/.cache/pantau/bench-streams), then cut with `-c copy` into K rotated copies, each served by a
`file` mount: no encoder runs in the server during the run. A `file` mount restarts its file
when its first client comes (the media is shared, later clients join it), so each mount stays
at its own offset. K = 1 is the former setup: ONE `camera` mount, re-encoded live (one x264enc
ultrafast encoder in the server), every camera seeing the same motion at the same moment. One keeper
client (`ffmpeg -c copy`) per mount holds it open so that every phase finds it running. Then,
one after the other:
  - the idle hub: bench/streams_support/hub_driver.py with 0 cameras, for its resident memory;
  - the baseline: B processes of `ffmpeg -rtsp_transport tcp -i URL -vf fps=5,scale=640:-2
    -f rawvideo -pix_fmt gray -` (stdout to /dev/null), what Frigate-style NVRs run per camera.
    B = min(N, --baseline-cameras), because N ffmpegs at ~9 % of a core each would saturate a
    small machine and falsify the measure; the per-camera CPU is measured at B cameras, spread
    round-robin over the mounts as the hub's cameras are;
  - for each N: the hub driver, a separate process running `hub.runtime.Hub` with N cameras on
    the mounts in the engine's default tiers (T0 always, T2 a keyframe every 10 s, T3 only
    while leased). All N connect first, then everything settles (a new client on a shared
    mount makes GStreamer restart the RTP clock of the others), then the hub's first minute on
    the scene is measured on its own (--learn: the activity meter warms up and meets each
    recurring swing of the scene once before it knows it), then the window that is judged.
Only the measured processes count, read from /proc: utime + stime of the hub process and its
descendants (and of children it reaped), or of every baseline ffmpeg; resident memory is VmRSS
at the end of the window. RSS per camera = (RSS with N cameras - RSS of the idle hub) / N.
Writes, over the window, from /proc/PID/io of the hub and its descendants: wchar (what it handed
to write calls: the clip pre-roll's files, the database, the log) and write_bytes -
cancelled_write_bytes (what reached, or will reach, the storage: pre-roll files unlinked before
writeback are cancelled), less the change in the size of the pre-roll files alive at the
window's ends; also the sectors written to the data folder's whole device. The
server and the keepers are never counted; their CPU, and the whole machine's, are recorded so a
contended or saturated run shows. A run in which a camera is not online at the end, or a
baseline ffmpeg died, is marked invalid and the command exits with 1. Every hub phase runs a
copy of hub/ and plugins/ taken when the benchmark starts (git HEAD, changed files and a digest
are in the JSON), so that edits made meanwhile in the working tree never mix into one run.

Targets (issue): at most 0.25 % of a core per camera in the default tiers, at least 20x less
than the ffmpeg baseline in the same run, at most 3 MB resident memory per camera. Reference on
this kind of machine: the ffmpeg baseline costs 8.7 % of a core per camera. 'T3 on' in the
table is the mean number of cameras with a full decoder running during the window (and its
least and most over the window's samples): with K > 1, windows are neither all quiet nor all
busy. Results go to bench/results/streams.json (--quick: streams-quick.json).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import hashlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from streams_support import footage, scene  # noqa: E402

from tests.streams.conftest import (  # noqa: E402
    CAR_VIDEO,
    SERVER_SCRIPT,
    SYSTEM_PYTHON,
    RtspTestServer,
)

DRIVER = ROOT / "bench" / "streams_support" / "hub_driver.py"
SOURCE_ENV = "PANTAU_BENCH_SOURCE"
"""Tells the driver where the snapshot of the source is (see hub_driver.py)."""
SOURCE_PACKAGES = ("hub", "plugins")
RESULTS = ROOT / "bench" / "results"
MOUNT = "camera"
"""The mount's name with K = 1; with K > 1 they are camera0 .. camera{K-1}."""
MOUNT_SETTINGS: dict[str, object] = {
    "path": CAR_VIDEO.relative_to(ROOT),
    "width": 1280,
    "height": 720,
    "fps": 15,
    "bitrate": 2000,
    "gop": 2,
}
BASELINE_ARGS = "-rtsp_transport tcp -i {url} -vf fps=5,scale=640:-2 -f rawvideo -pix_fmt gray -"
BASELINE_FPS = 5.0
KEEPER_ARGS = "-nostdin -loglevel error -rtsp_transport tcp -i {url} -c copy -f null -"

TARGET_CPU_PER_CAMERA = 0.25
"""% of one core per monitored camera, default tiers."""
TARGET_RATIO = 20.0
"""The baseline's CPU per camera over Pantau's, at least."""
TARGET_RSS_PER_CAMERA_MB = 3.0
REFERENCE_BASELINE = 8.7
"""% of a core per camera that the ffmpeg baseline cost when measured on this kind of machine."""

TICKS = os.sysconf("SC_CLK_TCK")
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT")
"""How a line of the hub's text log starts (a traceback's lines do not)."""
POLL = 2.0
"""Seconds between the hub stats taken during a window (T3 and lease samples)."""
SATURATED = 0.9
"""Share of the machine's cores busy beyond which a window is flagged as saturated."""
CONTENDED_CORES = 0.3
"""Cores used by processes outside the benchmark beyond which a window is flagged."""


# ---------------------------------------------------------------------------------------------
# /proc


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3, the state, is index 0)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_cpu(pid: int) -> float:
    """CPU seconds of a process, all its threads, plus those of the children it has reaped."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0.0
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and every live descendant (and whatever they reaped)."""
    return sum(process_cpu(p) for p in [pid, *descendants(pid)])


def process_rss(pid: int) -> int:
    """Resident memory of a process in bytes (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes."""
    return sum(process_rss(p) for p in [pid, *descendants(pid)])


IO_FIELDS = ("wchar", "write_bytes", "cancelled_write_bytes")


def process_io(pid: int) -> dict[str, int]:
    """/proc/PID/io: bytes handed to write() (wchar), pages it dirtied (write_bytes), and dirty
    pages dropped before writeback, as when a file is unlinked (cancelled_write_bytes)."""
    found = dict.fromkeys(IO_FIELDS, 0)
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value)
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        pass
    return found


def tree_io(pid: int) -> dict[str, int]:
    """/proc/PID/io of a process and its descendants, summed."""
    total = dict.fromkeys(IO_FIELDS, 0)
    for p in [pid, *descendants(pid)]:
        for key, value in process_io(p).items():
            total[key] += value
    return total


def ring_file_bytes(data_dir: Path) -> int:
    """Bytes (in whole blocks, as pages are dirtied) of the pre-roll files alive under data_dir."""
    total = 0
    for folder, _, names in os.walk(data_dir / "ring"):
        for name in names:
            with contextlib.suppress(OSError):  # unlinked meanwhile
                total += os.stat(os.path.join(folder, name)).st_blocks * 512
    return total


def io_window(
    before: dict[str, int], after: dict[str, int], cameras: int, seconds: float
) -> dict[str, Any]:
    """What the hub wrote during a window, from /proc/PID/io and the pre-roll's live files.

    write_bytes - cancelled_write_bytes is what went, or will go, to the storage: the pages of
    a pre-roll file unlinked before writeback are cancelled. The files alive at the window's
    ends are not written yet; the change in their size is taken off (the cameras of one mount
    share a stream, so they write and unlink their GOPs at the same moments).
    """
    delta = {key: after[key] - before[key] for key in IO_FIELDS}
    live = after["ring_file_bytes"] - before["ring_file_bytes"]
    storage = delta["write_bytes"] - delta["cancelled_write_bytes"] - live
    per_camera_min = 60 / seconds / cameras if cameras else 0.0
    return {
        **delta,
        "ring_file_bytes_start": before["ring_file_bytes"],
        "ring_file_bytes_end": after["ring_file_bytes"],
        "storage_bytes": storage,
        "storage_mb_per_camera_per_min": round(storage * per_camera_min / 1e6, 4)
        if cameras
        else None,
        "wchar_mb_per_camera_per_min": round(delta["wchar"] * per_camera_min / 1e6, 3)
        if cameras
        else None,
    }


def device_sectors_written(path: Path) -> int | None:
    """Sectors (512 B) written to the block device holding `path`, every process and the
    file system's journal included; None when it is not a block device (tmpfs, overlay)."""
    dev = path.stat().st_dev
    try:
        fields = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat").read_text().split()
        return int(fields[6])
    except (OSError, IndexError, ValueError):
        return None


def file_system(path: Path) -> dict[str, str]:
    """The mount holding `path` (the hub's data folder, where the pre-roll's files go)."""
    best = ("", "", "")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path.resolve()).startswith(mount.rstrip("/") + "/") and len(mount) > len(
                best[1]
            ):
                best = (device, mount, kind)
    return {"device": best[0], "mount": best[1], "type": best[2]}


def writeback_settings() -> dict[str, int | None]:
    """The kernel's page cache writeback: dirty pages older than dirty_expire_centisecs, or more
    than the background threshold, are written out."""
    found: dict[str, int | None] = {}
    for name in (
        "dirty_expire_centisecs",
        "dirty_writeback_centisecs",
        "dirty_background_ratio",
        "dirty_background_bytes",
        "dirty_ratio",
    ):
        try:
            found[name] = int(Path(f"/proc/sys/vm/{name}").read_text())
        except (OSError, ValueError):
            found[name] = None
    return found


def machine_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user time
    return total - idle, total


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    ffmpeg = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        ffmpeg = subprocess.run(
            ["ffmpeg", "-version"], capture_output=True, text=True, check=False, timeout=10
        ).stdout.split("\n", 1)[0]
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_bytes": memory,
        "python": sys.version.split()[0],
        "ffmpeg": ffmpeg,
        "load_average_at_start": list(os.getloadavg()),
        "writeback": writeback_settings(),
    }


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def snapshot_source(dest: Path) -> dict[str, Any]:
    """Copy hub/ and plugins/ as they are now: every phase runs this code, whatever others edit."""
    for package in SOURCE_PACKAGES:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    digest = hashlib.sha256()
    for path in sorted(dest.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(dest)).encode())
            digest.update(path.read_bytes())
    return {
        "git_head": git("rev-parse", "HEAD"),
        "uncommitted": git("status", "--porcelain", "--", *SOURCE_PACKAGES).splitlines(),
        "sha256": digest.hexdigest(),
    }


# ---------------------------------------------------------------------------------------------
# Processes


class Processes:
    """Every process the benchmark starts, stopped in reverse order however the run ends."""

    def __init__(self) -> None:
        self._stops: list[Callable[[], None]] = []

    def add(self, stop: Callable[[], None]) -> Callable[[], None]:
        self._stops.append(stop)
        return stop

    def stop(self, stop: Callable[[], None]) -> None:
        """Stop one now (and forget it)."""
        if stop in self._stops:
            self._stops.remove(stop)
            stop()

    def stop_all(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                print(f"cleanup: {exc}", file=sys.stderr)


def end_process(
    process: subprocess.Popen[Any], first: int = signal.SIGTERM, wait: float = 5.0
) -> None:
    """Signal a process we started, then kill it if it does not end in `wait` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def start_server(processes: Processes, log_path: Path) -> RtspTestServer:
    """The GStreamer RTSP server, through the tests' own client class."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port=0", "--auth-port=0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            bufsize=1,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C reaches the benchmark, which stops things in order
        )
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    if len(ready) != 3 or ready[0] != "ready":
        end_process(process)
        raise SystemExit(f"rtsp_server.py did not start: {ready}; see {log_path}")
    server = RtspTestServer(process, int(ready[1]), int(ready[2]))
    processes.add(server.stop)
    return server


def interrupt(process: subprocess.Popen[Any]) -> None:
    """Stop an ffmpeg as Ctrl-C does, so that it prints its final stats."""
    end_process(process, signal.SIGINT)


def start_ffmpeg(arguments: str, url: str, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            ["ffmpeg", *arguments.format(url=url).split()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,
        )


class HubDriver:
    """bench/streams_support/hub_driver.py: a hub with N cameras, asked for stats on stdin."""

    def __init__(
        self,
        urls: list[str],
        cameras: int,
        data_dir: Path,
        log_path: Path,
        extra: list[str],
        source: Path,
    ) -> None:
        self.log_path = log_path
        with log_path.open("w") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, str(DRIVER), *(f"--url={url}" for url in urls)]
                + ["--cameras", str(cameras), "--data-dir", str(data_dir), *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                bufsize=1,
                cwd=ROOT,
                start_new_session=True,
                env={**os.environ, SOURCE_ENV: str(source)},
            )
        self.pid = self.process.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(
                f"hub driver: no answer in {timeout:g} s; see {self.log_path}"
            ) from None
        if line is None:
            raise RuntimeError(f"hub driver exited ({self.process.poll()}); see {self.log_path}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, command: str, timeout: float = 30.0) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.answer(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                end_process(self.process)
        self._reader.join(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Window:
    """CPU over one window: of the measured processes, of the unmeasured helpers, of the machine."""

    seconds: float
    cpu: float
    helpers: float
    machine_busy: float
    cores: int

    @property
    def cpu_cores(self) -> float:
        return self.cpu / self.seconds

    @property
    def helper_cores(self) -> float:
        return self.helpers / self.seconds

    @property
    def machine_cores(self) -> float:
        return self.machine_busy / self.seconds

    @property
    def other_cores(self) -> float:
        """Cores used by processes that are neither measured nor the benchmark's helpers."""
        return max(0.0, self.machine_cores - self.cpu_cores - self.helper_cores)

    def warnings(self) -> list[str]:
        found = []
        if self.machine_cores > SATURATED * self.cores:
            found.append(f"machine saturated: {self.machine_cores:.2f} of {self.cores} cores busy")
        if self.other_cores > CONTENDED_CORES:
            found.append(f"other processes used {self.other_cores:.2f} cores during the window")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu, 3),
            "cpu_cores": round(self.cpu_cores, 4),
            "server_and_keeper_cores": round(self.helper_cores, 4),
            "machine_busy_cores": round(self.machine_cores, 3),
            "other_processes_cores": round(self.other_cores, 3),
            "warnings": self.warnings(),
        }


def measure(
    seconds: float,
    measured: Callable[[], float],
    helpers: Callable[[], float],
    poll: Callable[[], None] | None = None,
) -> Window:
    """CPU seconds of `measured` (and `helpers`) over `seconds` of wall time."""
    busy0, total0 = machine_ticks()
    cpu0, helpers0, start = measured(), helpers(), time.monotonic()
    end = start + seconds
    while (now := time.monotonic()) < end:
        time.sleep(min(POLL, end - now))
        if poll is not None and time.monotonic() < end - 0.5:
            poll()
    cpu1, helpers1, stop = measured(), helpers(), time.monotonic()
    busy1, total1 = machine_ticks()
    wall = stop - start
    # /proc/stat counts every core; its ticks per wall second are TICKS * cores
    cores = os.cpu_count() or 1
    machine_busy = (busy1 - busy0) / max(total1 - total0, 1) * cores * wall
    return Window(wall, cpu1 - cpu0, helpers1 - helpers0, machine_busy, cores)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def hub_log_errors(path: Path) -> list[str]:
    """The ERROR lines of a hub log, each with the last line of the traceback that follows it."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    for index, line in enumerate(lines):
        if " ERROR " not in line and " CRITICAL " not in line:
            continue
        tail = ""
        for following in lines[index + 1 :]:
            if LOG_LINE.match(following):
                break
            tail = following.strip() or tail
        found.append(f"{line} | {tail}" if tail else line)
    return found


@dataclass
class Bench:
    """One run: the server, the phases, and their results."""

    urls: list[str]
    """The mounts' URLs: camera (and baseline ffmpeg) i reads urls[i % K]."""
    server: RtspTestServer
    keepers: list[subprocess.Popen[bytes]]
    processes: Processes
    workdir: Path
    source: Path
    args: argparse.Namespace
    results: dict[str, Any] = field(default_factory=dict)

    def helpers_cpu(self) -> float:
        return process_cpu(self.server.process.pid) + sum(process_cpu(k.pid) for k in self.keepers)

    def check_keeper(self) -> None:
        for index, keeper in enumerate(self.keepers):
            if keeper.poll() is not None:
                raise RuntimeError(
                    f"the keeper client of mount {index} lost the stream;"
                    f" see {self.workdir / f'keeper{index}.log'}"
                )

    def t3_by_mount(self, samples: list[dict[str, Any]]) -> list[float | None]:
        """Mean number of cameras with T3 running, per mount, over the samples."""
        return [
            _mean([s.get("t3_running_by_url", {}).get(url, 0) for s in samples])
            for url in self.urls
        ]

    # -- Pantau ---------------------------------------------------------------------------

    def run_hub(self, cameras: int, seconds: float, tag: str) -> dict[str, Any]:
        self.check_keeper()
        data_dir = self.workdir / f"hub-{tag}"
        log_path = self.workdir / f"hub-{tag}.log"
        extra = ["--no-activity"] if self.args.no_activity else []
        extra += [f"--set={setting}" for setting in self.args.set]
        driver = HubDriver(self.urls, cameras, data_dir, log_path, extra, self.source)
        stop = self.processes.add(driver.stop)
        problems: list[str] = []
        try:
            started = time.monotonic()
            ready = driver.answer(timeout=120)  # once the hub has started
            ready_s = time.monotonic() - started
            if not Path(ready["hub_package"]).is_relative_to(self.source):
                raise RuntimeError(f"the hub driver ran {ready['hub_package']}, not the snapshot")
            online_s: float | None = None
            deadline = time.monotonic() + 30 + 0.3 * cameras
            stats = driver.ask("stats")
            while cameras and time.monotonic() < deadline:
                if stats["health"].get("online", 0) == cameras:
                    online_s = time.monotonic() - started
                    break
                time.sleep(1.0)
                stats = driver.ask("stats")
            if cameras and online_s is None:
                problems.append(f"only {stats['health']} after {deadline - started:.0f} s")
            time.sleep(self.args.settle)
            learning = self.learning_window(driver, cameras) if cameras else None
            samples: list[dict[str, Any]] = []
            rss_samples: list[tuple[float, int]] = []

            def poll() -> None:
                samples.append(driver.ask("stats"))
                rss_samples.append((time.monotonic(), tree_rss(driver.pid)))

            before = driver.ask("stats")  # also restarts the loop lag count for the window
            rss_start = tree_rss(driver.pid)
            io_start = {**tree_io(driver.pid), "ring_file_bytes": ring_file_bytes(data_dir)}
            sectors_start = device_sectors_written(self.workdir)
            rss_samples.append((time.monotonic(), rss_start))
            py_spy = self.start_py_spy(driver.pid, seconds, tag) if cameras else None
            window = measure(seconds, lambda: tree_cpu(driver.pid), self.helpers_cpu, poll=poll)
            after = driver.ask("stats")
            rss_end = tree_rss(driver.pid)
            io_end = {**tree_io(driver.pid), "ring_file_bytes": ring_file_bytes(data_dir)}
            sectors_end = device_sectors_written(self.workdir)
            samples.append(after)
            rss_samples.append((time.monotonic(), rss_end))
        finally:
            self.processes.stop(stop)
        profile = self.finish_py_spy(py_spy)
        online = after["health"].get("online", 0)
        if online != cameras:
            problems.append(f"{online} of {cameras} cameras online at the end: {after['health']}")
        if after["connected"] != cameras:
            problems.append(f"{after['connected']} of {cameras} streams connected at the end")
        if driver.process.returncode not in (0, None):
            problems.append(f"hub driver exited with {driver.process.returncode}")
        events = _delta(after["events"], before["events"])
        reconnects = events.get("camera.offline", 0)
        if reconnects:
            problems.append(f"{reconnects} cameras went offline during the window")
        units = after["units"] - before["units"]
        received = after["bytes"] - before["bytes"]
        errors = hub_log_errors(log_path)
        result: dict[str, Any] = {
            "cameras": cameras,
            "valid": not problems,
            "problems": problems,
            "window": window.as_dict(),
            "cpu_pct_of_core": round(100 * window.cpu_cores, 3),
            "cpu_pct_per_camera": round(100 * window.cpu_cores / cameras, 4) if cameras else None,
            "rss_bytes_start": rss_start,
            "rss_bytes_end": rss_end,
            # over the window's samples (every poll): with T3 coming and going the hub's memory
            # moves by a few MB per decoder, and its value at the end is one moment of that
            "rss_bytes_median": round(statistics.median(rss for _, rss in rss_samples)),
            "rss_bytes_max": max(rss for _, rss in rss_samples),
            "rss_growth_mb_per_min": round(slope(rss_samples) * 60 / 1e6, 2),
            "rss_mb_by_minute": rss_by_minute(rss_samples),
            "io": io_window(io_start, io_end, cameras, window.seconds),
            "device_written_bytes": (
                512 * (sectors_end - sectors_start)
                if sectors_start is not None and sectors_end is not None
                else None
            ),
            "event_loop": ready.get("event_loop"),
            "hub_start_s": round(ready_s, 2),
            "all_online_after_s": round(online_s, 2) if online_s is not None else None,
            "health_end": after["health"],
            "online_end": online,
            "t3_running_mean": _mean([s["t3_running"] for s in samples]),
            "t3_running_min": min((s["t3_running"] for s in samples), default=None),
            "t3_running_max": max((s["t3_running"] for s in samples), default=None),
            "t3_running_by_mount_mean": self.t3_by_mount(samples),
            "t3_held_by_mean": {
                reasons: _mean([s.get("t3_held_by", {}).get(reasons, 0) for s in samples])
                for reasons in sorted({r for s in samples for r in s.get("t3_held_by", {})})
            },
            "t3_samples": len(samples),
            "loop_lag_ms_mean": _mean(
                [lag for s in samples if (lag := s["loop_lag_since_last_stats"]["mean_ms"])]
            ),
            "loop_lag_ms_max": max(
                (s["loop_lag_since_last_stats"]["max_ms"] or 0.0 for s in samples), default=None
            ),
            "leased_mean": _mean([s["leased"] for s in samples]),
            "fps_per_camera": round(units / window.seconds / cameras, 3) if cameras else None,
            "kbit_s_per_camera": (
                round(8 * received / window.seconds / cameras / 1000, 1) if cameras else None
            ),
            "lost_packets": after["lost_packets"] - before["lost_packets"],
            "stream_stats_fps_mean": after["stats_fps_mean"],
            "timestamp_problems_last_stats": after["stats_timestamp_problems"],
            "events_in_window": events,
            "tamper_in_window": [
                {**t, "monotonic": round(t["monotonic"] - before["monotonic"], 1)}
                for t in after.get("tampers", [])
                if before["monotonic"] <= t["monotonic"] <= after["monotonic"]
            ][:20],
            "hub_log_errors": len(errors),
            "hub_log_first_errors": errors[:3],
            "learning": learning,
        }
        if profile is not None:
            result["py_spy"] = profile
        return result

    def learning_window(self, driver: HubDriver, cameras: int) -> dict[str, Any] | None:
        """The hub's first minute on the scene, measured on its own before the window.

        The activity meter warms up (10 s) and then meets each recurring swing of the scene
        once before it knows it (docs/streams.md, activity); an episode it starts holds T3 for
        up to motion_hold. That is a cost of (re)starting the hub, not of watching: the window
        that is judged comes after it, and this one is kept beside it.
        """
        if self.args.learn <= 0:
            return None
        samples: list[dict[str, Any]] = []
        before = driver.ask("stats")
        window = measure(
            self.args.learn,
            lambda: tree_cpu(driver.pid),
            self.helpers_cpu,
            poll=lambda: samples.append(driver.ask("stats")),
        )
        after = driver.ask("stats")
        samples.append(after)
        return {
            "seconds": round(window.seconds, 2),
            "cpu_pct_per_camera": round(100 * window.cpu_cores / cameras, 4),
            "t3_running_mean": _mean([s["t3_running"] for s in samples]),
            "events": _delta(after["events"], before["events"]),
        }

    def start_py_spy(self, pid: int, seconds: float, tag: str) -> tuple[Any, Path] | None:
        if not self.args.py_spy:
            return None
        exe = Path(sys.executable).parent / "py-spy"
        tool = str(exe) if exe.exists() else shutil.which("py-spy")
        if tool is None:
            print("py-spy not found: pip install py-spy into the venv", file=sys.stderr)
            return None
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"streams-py-spy-{tag}.txt"
        command = [tool, "record", "--pid", str(pid), "--duration", str(int(seconds))]
        command += ["--rate", "50", "--format", "raw", "--nonblocking", "--output", str(out)]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.processes.add(lambda: end_process(process, signal.SIGINT, wait=10))
        return process, out

    def finish_py_spy(self, started: tuple[Any, Path] | None) -> dict[str, Any] | None:
        if started is None:
            return None
        process, out = started
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        return summarize_profile(out)

    # -- the baseline --------------------------------------------------------------------

    def run_baseline(self, cameras: int, seconds: float, tag: str) -> dict[str, Any]:
        self.check_keeper()
        logs = [self.workdir / f"ffmpeg-{tag}-{i:03d}.log" for i in range(cameras)]
        ffmpegs: list[subprocess.Popen[bytes]] = []
        stops = []
        problems: list[str] = []
        try:
            for index, log_path in enumerate(logs):
                url = self.urls[index % len(self.urls)]
                process = start_ffmpeg(BASELINE_ARGS, url, log_path)
                ffmpegs.append(process)
                stops.append(self.processes.add(functools.partial(interrupt, process)))
            started = time.monotonic()
            time.sleep(self.args.settle)
            dead = sum(1 for p in ffmpegs if p.poll() is not None)
            if dead:
                problems.append(f"{dead} ffmpegs ended before the window")
            pids = [p.pid for p in ffmpegs]
            window = measure(seconds, lambda: sum(process_cpu(p) for p in pids), self.helpers_cpu)
            rss = [process_rss(p) for p in pids]
            dead = sum(1 for p in ffmpegs if p.poll() is not None)
            if dead:
                problems.append(f"{dead} ffmpegs ended during the window")
            lifetime = time.monotonic() - started
        finally:
            for stop in reversed(stops):
                self.processes.stop(stop)
        frames = [last_frame_count(log_path) for log_path in logs]
        fps = [f / lifetime for f in frames if f is not None]
        if len(fps) < cameras:
            problems.append(f"{cameras - len(fps)} ffmpegs reported no frames")
        elif min(fps) < 0.8 * BASELINE_FPS:
            problems.append(f"an ffmpeg put out only {min(fps):.1f} fps, not {BASELINE_FPS:g}")
        return {
            "cameras": cameras,
            "valid": not problems,
            "problems": problems,
            "command": "ffmpeg " + BASELINE_ARGS.format(url=self.urls[0]),
            "ffmpegs_per_mount": [
                len(range(index, cameras, len(self.urls))) for index in range(len(self.urls))
            ],
            "window": window.as_dict(),
            "cpu_pct_of_core": round(100 * window.cpu_cores, 3),
            "cpu_pct_per_camera": round(100 * window.cpu_cores / cameras, 4),
            "rss_bytes_per_process_mean": round(statistics.fmean(rss)) if rss else None,
            "output_fps_per_process_mean": round(statistics.fmean(fps), 2) if fps else None,
        }


def rss_by_minute(points: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """The RSS samples thinned to one a minute from the window's start: (minutes, MB), to
    tell warm-up (growth that flattens) from a leak (growth that keeps on) in a long window."""
    if not points:
        return []
    start = points[0][0]
    series: list[tuple[float, float]] = []
    for at, rss in sorted(points):
        if not series or at - start >= 60 * (len(series)):
            series.append((round((at - start) / 60, 2), round(rss / 1e6, 1)))
    return series


def slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two points): RSS growth per second."""
    if len(points) < 2:
        return 0.0
    xs = [x for x, _ in points]
    ys = [float(y) for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def _mean(values: list[Any]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def last_frame_count(path: Path) -> int | None:
    """The last `frame=` count ffmpeg printed (its final stats once it has been stopped)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"frame=\s*(\d+)", text)
    return int(found[-1]) if found else None


def summarize_profile(path: Path, top: int = 12) -> dict[str, Any] | None:
    """Where the hub's time went, from py-spy's collapsed stacks, as shares of the busy samples.

    Leaf frames say where the time was spent; inclusive shares of the hub's own functions say
    on whose behalf (the reader, T2, T3, the ticker).
    """
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        leaves[frames[-1]] += int(count)
        # "function (file:line)" -> "function (file)": once per stack, however deep it recurses
        functions = {re.sub(r":\d+\)$", ")", frame) for frame in frames}
        for function in functions:
            if "(hub/" in function or "(plugins/" in function:
                inclusive[function] += int(count)
        total += int(count)
    if not total:
        return {"file": str(path), "samples": 0}
    return {
        "file": str(path),
        "samples": total,
        "top_leaf_frames": [
            {"frame": frame, "share": round(n / total, 4)} for frame, n in leaves.most_common(top)
        ],
        "top_inclusive_hub_functions": [
            {"function": function, "share": round(n / total, 4)}
            for function, n in inclusive.most_common(top)
        ],
    }


# ---------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per N: medians over repeats, the baseline at its camera count, the targets."""
    idle_rss = statistics.median(r["rss_bytes_end"] for r in results["idle_hub"])
    rows = []
    for n, runs in results["pantau"].items():
        base_runs = results["baseline"][str(results["baseline_cameras_for"][n])]
        cpu = statistics.median(r["cpu_pct_per_camera"] for r in runs)
        rss_end = statistics.median(r["rss_bytes_end"] for r in runs)
        # The window's median (its peak beside it): the end alone is one moment of T3's tide.
        rss_mid = statistics.median(r["rss_bytes_median"] for r in runs)
        rss_peak = statistics.median(r["rss_bytes_max"] for r in runs)
        rss_per_camera = (rss_mid - idle_rss) / int(n) / 1e6
        base = statistics.median(r["cpu_pct_per_camera"] for r in base_runs)
        ratio = base / cpu if cpu > 0 else None
        valid = all(r["valid"] for r in runs) and all(r["valid"] for r in base_runs)
        storage = statistics.median(r["io"]["storage_bytes"] for r in runs)
        written = statistics.median(r["io"]["wchar"] for r in runs)
        seconds = statistics.median(r["window"]["seconds"] for r in runs)
        device = [r["device_written_bytes"] for r in runs if r["device_written_bytes"] is not None]
        rows.append(
            {
                "cameras": int(n),
                "repeats": len(runs),
                "valid": valid,
                "pantau_cpu_pct_per_camera": round(cpu, 4),
                "pantau_marginal_cpu_pct_per_camera": round(
                    cpu
                    - statistics.median(r["cpu_pct_of_core"] for r in results["idle_hub"]) / int(n),
                    4,
                ),
                "pantau_rss_mb_per_camera": round(rss_per_camera, 3),
                "pantau_rss_mb_per_camera_peak": round((rss_peak - idle_rss) / int(n) / 1e6, 3),
                "pantau_rss_mb_total": round(rss_mid / 1e6, 1),
                "pantau_rss_mb_total_end": round(rss_end / 1e6, 1),
                # the hub process's own writes (pre-roll files, database, log), per camera
                "hub_written_mb_per_camera_per_min": round(
                    written / int(n) / seconds * 60 / 1e6, 3
                ),
                "hub_storage_mb_per_camera_per_min": round(
                    storage / int(n) / seconds * 60 / 1e6, 4
                ),
                "device_written_mb_per_min": (
                    round(statistics.median(device) / seconds * 60 / 1e6, 2) if device else None
                ),
                "baseline_cameras": results["baseline_cameras_for"][n],
                "baseline_cpu_pct_per_camera": round(base, 4),
                "ratio": round(ratio, 2) if ratio is not None else None,
                "online": f"{min(r['online_end'] for r in runs)}/{n}",
                "t3_running_mean": statistics.median(r["t3_running_mean"] or 0 for r in runs),
                "t3_running_min": min((r["t3_running_min"] or 0 for r in runs), default=0),
                "t3_running_max": max((r["t3_running_max"] or 0 for r in runs), default=0),
                "learning_cpu_pct_per_camera": _median_of(runs, "cpu_pct_per_camera"),
                "learning_t3_running_mean": _median_of(runs, "t3_running_mean"),
                "t3_running_by_mount_mean": [
                    statistics.median(m or 0 for m in per_mount)
                    for per_mount in zip(
                        *(r["t3_running_by_mount_mean"] for r in runs), strict=True
                    )
                ],
                "targets": {
                    "cpu_per_camera_at_most_0.25_pct": verdict(cpu <= TARGET_CPU_PER_CAMERA),
                    "ratio_at_least_20x": verdict(None if ratio is None else ratio >= TARGET_RATIO),
                    "rss_per_camera_at_most_3_mb": verdict(
                        rss_per_camera <= TARGET_RSS_PER_CAMERA_MB
                    ),
                },
            }
        )
    return rows


def _median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    """The median of a learning window's measure over the runs that had one."""
    values = [r["learning"][key] or 0 for r in runs if r.get("learning")]
    return round(statistics.median(values), 4) if values else None


def print_table(rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    idle = results["idle_hub"]
    print()
    print(
        f"idle hub (0 cameras): RSS {statistics.median(r['rss_bytes_end'] for r in idle) / 1e6:.1f}"
        f" MB, CPU {statistics.median(r['cpu_pct_of_core'] for r in idle):.3f} % of a core"
    )
    for count, runs in results["baseline"].items():
        cpu = statistics.median(r["cpu_pct_per_camera"] for r in runs)
        fps = runs[0]["output_fps_per_process_mean"]
        print(
            f"baseline measured at B={count} ffmpegs: {cpu:.2f} % of a core per camera"
            f" (reference {REFERENCE_BASELINE} %), {fps} fps out each"
            + (
                ""
                if all(r["valid"] for r in runs)
                else "  INVALID: " + "; ".join(p for r in runs for p in r["problems"])
            )
        )
    header = (
        f"{'N':>5} {'Pantau CPU/cam':>15} {'RSS/cam':>9} {'baseline CPU/cam':>17}"
        f" {'ratio':>8} {'online':>9} {'T3 on (least-most)':>19}  per mount"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['ratio']:.1f}x" if row["ratio"] is not None else "-"
        print(
            f"{row['cameras']:>5} {row['pantau_cpu_pct_per_camera']:>13.3f} %"
            f" {row['pantau_rss_mb_per_camera']:>6.2f} MB"
            f" {row['baseline_cpu_pct_per_camera']:>9.2f} % (B={row['baseline_cameras']:<2})"
            f" {ratio:>8} {row['online']:>9} {row['t3_running_mean']:>7.1f}"
            f" ({row['t3_running_min']:>3}-{row['t3_running_max']:<3})"
            f"  {' '.join(f'{m:.1f}' for m in row['t3_running_by_mount_mean'])}"
            + ("" if row["valid"] else "  INVALID")
        )
    for row in rows:
        if row["learning_cpu_pct_per_camera"] is not None:
            print(
                f"{row['cameras']:>5} before the window, learning the scene:"
                f" {row['learning_cpu_pct_per_camera']:.3f} % of a core per camera,"
                f" T3 on {row['learning_t3_running_mean']:.1f} (medians; not judged)"
            )
    print()
    print(
        f"targets: CPU/camera <= {TARGET_CPU_PER_CAMERA} % of a core (default tiers);"
        f" ratio >= {TARGET_RATIO:g}x; RSS/camera <= {TARGET_RSS_PER_CAMERA_MB:g} MB"
    )
    for row in rows:
        t = row["targets"]
        print(
            f"  N={row['cameras']:<4} CPU {t['cpu_per_camera_at_most_0.25_pct']}"
            f"  ratio {t['ratio_at_least_20x']}  RSS {t['rss_per_camera_at_most_3_mb']}"
            + ("" if row["valid"] else "  (INVALID run: see problems in the JSON)")
        )
    for n, runs in results["pantau"].items():
        for run in runs:
            for problem in run["problems"]:
                print(f"  N={n}: INVALID: {problem}")
            for warning in run["window"]["warnings"]:
                print(f"  N={n}: warning: {warning}")
            if run["hub_log_errors"]:
                print(f"  N={n}: {run['hub_log_errors']} ERROR lines in the hub log")
    for count, runs in results["baseline"].items():
        for run in runs:
            for warning in run["window"]["warnings"]:
                print(f"  baseline B={count}: warning: {warning}")
    print(
        "CPU: utime+stime from /proc of the measured processes only (hub and its descendants;"
        " the ffmpegs), never the RTSP server's. 'T3 on': cameras with a full decoder running"
        f" (leased), mean over the window (least-most of its {POLL:g} s samples), then the mean"
        f" per mount ({results['mounts']} mount{'s' if results['mounts'] > 1 else ''}, starting at"
        f" {', '.join(f'{o:g}' for o in results['mount_offsets_s'])} s of the footage)."
        f" RSS/cam: the hub's median over the window's {POLL:g} s samples less the idle hub's,"
        " per camera; at its peak: "
        + ", ".join(
            f"N={row['cameras']} {row['pantau_rss_mb_per_camera_peak']:.2f} MB" for row in rows
        )
        + "."
    )
    restarts = results.get("mount_restarts") or {}
    if restarts:
        print(
            "file mounts restarted their copy: "
            + ", ".join(f"{name} {count}x" for name, count in restarts.items())
            + (
                " (once, as each keeper came: their offsets hold)"
                if set(restarts.values()) == {1} and len(restarts) == results["mounts"]
                else " (more than once or not at all: a mount lost all its clients; each copy"
                " still starts elsewhere in the footage, but the spacing of the offsets moved)"
            )
        )
    print()
    print(
        f"writes ({results['data_file_system']['type'] or '?'} at"
        f" {results['data_file_system']['mount'] or '?'}; the pre-roll's files go to the hub's"
        " data folder there):"
    )
    for row in rows:
        device = row["device_written_mb_per_min"]
        print(
            f"  N={row['cameras']:<4} the hub wrote {row['hub_written_mb_per_camera_per_min']:.2f}"
            f" MB/min per camera (write calls), of which"
            f" {row['hub_storage_mb_per_camera_per_min']:.4f} MB/min per camera reached storage"
            " (write_bytes - cancelled_write_bytes, less the change in live pre-roll files);"
            f" the whole device: {'-' if device is None else f'{device:.1f}'} MB/min"
            " (every process, journal included)"
        )


# ---------------------------------------------------------------------------------------------


def prepare_footage(args: argparse.Namespace) -> footage.Footage | None:
    """The footage encoded once like a camera and its K rotated copies (cached); None for the
    former setup (K = 1 and the looped clip: one live-encoding mount)."""
    if args.mounts == 1 and args.scene == "loop":
        return None
    started = time.monotonic()
    source = CAR_VIDEO
    if args.scene == "day":
        day = scene.day(args.cache_dir)
        args.scene_facts = day.as_dict()
        made = "cached" if day.made_s is None else f"composed now in {day.made_s:g} s"
        print(
            f"scene: a camera day, {day.seconds:.0f} s, a car in the picture"
            f" {day.car_share:.0%} of the time ({made})",
            flush=True,
        )
        source = day.path
    print(f"footage: {args.mounts} rotated copies in {args.cache_dir}", flush=True)
    played = footage.prepare(source, args.mounts, args.cache_dir, args.encode)
    encoded = "cached" if played.encode_s is None else f"encoded now in {played.encode_s:g} s"
    cut = "cached" if played.cut_s is None else f"cut now in {played.cut_s:g} s"
    print(
        f"  footage {encoded}, copies {cut}; {played.duration_s:g} s loop, mounts start at"
        f" {', '.join(f'{o:g}' for o in played.offsets_s)} s"
        f" ({time.monotonic() - started:.1f} s in all)",
        flush=True,
    )
    return played


PROBE_ARGS = "-v error -rtsp_transport tcp -show_entries stream=width -of csv=p=0"


def mount_plays(url: str, timeout: float = 20.0) -> bool:
    """Whether a mount delivers pictures: ffprobe gets its size (it joins the shared media)."""
    try:
        done = subprocess.run(
            ["ffprobe", *PROBE_ARGS.split(), url],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and done.stdout.strip().isdigit()


def start_keepers(
    server: RtspTestServer,
    processes: Processes,
    workdir: Path,
    urls: list[str],
    played: footage.Footage | None,
    settle: float,
) -> list[subprocess.Popen[bytes]]:
    """One keeper per mount; then each mount must deliver, or it is made again (twice at most).

    On a loaded machine a `file` mount has been seen once to never start its media (no
    picture for any client, its keeper stuck probing); taking it away and adding it again
    makes a new media.
    """
    keepers: list[subprocess.Popen[bytes]] = []
    stops: list[Callable[[], None]] = []
    for index, url in enumerate(urls):
        keeper = start_ffmpeg(KEEPER_ARGS, url, workdir / f"keeper{index}.log")
        stops.append(processes.add(functools.partial(end_process, keeper)))
        keepers.append(keeper)
    time.sleep(settle)  # the mounts run and the keepers read before any phase
    for index, url in enumerate(urls):
        for attempt in range(3):
            if mount_plays(url):
                break
            if played is None or attempt == 2:
                raise RuntimeError(f"mount {index} ({url}) delivers no picture; see server.log")
            print(f"  mount {index} delivers no picture: adding it again", flush=True)
            processes.stop(stops[index])
            name = url.rsplit("/", 1)[1]
            server.remove_mount(name)
            server.add_mount(name, "file", path=played.copies[index])
            log_path = workdir / f"keeper{index}-again{attempt + 1}.log"
            keepers[index] = start_ffmpeg(KEEPER_ARGS, url, log_path)
            stops[index] = processes.add(functools.partial(end_process, keepers[index]))
            time.sleep(settle)
    return keepers


def mount_restarts(log_path: Path, mounts: int) -> dict[str, int]:
    """How often each file mount restarted its copy (once, as its keeper came, is expected)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return {}
    found = Counter(re.findall(r"feeder (\S+): restarted at the start", text))
    return dict(sorted(found.items())) if mounts > 1 else {}


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT unwind as KeyboardInterrupt: every process is stopped on the way out."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    # Started in the background by a shell, SIGINT comes ignored: Ctrl-C must still clean up.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", default="25,50,100", help="values of N, comma separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (s)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        help="the baseline's window (s), if not --seconds: a long soak of the hub needs no long"
        " baseline",
    )
    parser.add_argument("--settle", type=float, default=10.0, help="wait before a window (s)")
    parser.add_argument(
        "--learn",
        type=float,
        default=60.0,
        help="hub phases: seconds measured apart before the window, while the activity meter"
        " learns the scene (0: none, the window follows the settle)",
    )
    parser.add_argument(
        "--baseline-cameras", type=int, default=10, help="B: most ffmpegs run at once"
    )
    parser.add_argument("--repeat", type=int, default=1, help="measure each this many times")
    parser.add_argument(
        "--mounts",
        type=int,
        default=4,
        help="K: mounts playing the footage at K offsets, cameras round-robin over them"
        " (1: one live re-encoded mount, every camera in step)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=footage.DEFAULT_CACHE,
        help="where the encoded footage and its rotated copies are kept between runs",
    )
    parser.add_argument(
        "--scene",
        choices=("loop", "day"),
        default="loop",
        help="loop: the test clip looped every 30 s, busy all the time (T3 idle once the"
        " activity meter has learned it); day: a quiet car park with a car now and then"
        " (bench/streams_support/scene.py), so T3 runs",
    )
    parser.add_argument(
        "--encode",
        choices=sorted(footage.ENCODES),
        default=footage.DEFAULT_ENCODE,
        help="camera: H.264 Main profile as cameras send it (CABAC, deblocking, no B-frames);"
        " ultrafast: the former encode (constrained baseline, about half the decode cost), for"
        " comparison with earlier results",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N=10, 15 s windows")
    parser.add_argument("--output", type=Path, help="JSON results (default under bench/results)")
    parser.add_argument("--py-spy", action="store_true", help="profile each hub window")
    parser.add_argument(
        "--no-activity",
        action="store_true",
        help="diagnosis, not the target: cameras never start activity, so T3 never runs",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="diagnosis, not the target: override a hub.streams setting, such as pre_roll=0",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.quick:
        args.cameras, args.seconds = "10", 15.0
    args.counts = sorted({int(part) for part in str(args.cameras).split(",") if part.strip()})
    if not args.counts or min(args.counts) < 1 or args.repeat < 1 or args.seconds <= 0:
        parser.error("need N >= 1, --repeat >= 1 and --seconds > 0")
    if args.mounts < 1:
        parser.error("need --mounts >= 1")
    args.scene_facts = {"name": args.scene}  # the day scene adds what it holds when made
    if args.output is None:
        name = "streams-quick" if args.quick else "streams"
        if args.scene != "loop":
            name += f"-{args.scene}"
        if args.encode != footage.DEFAULT_ENCODE:
            name += f"-{args.encode}"
        if args.no_activity or args.set:  # a diagnosis never replaces the measure of the target
            name += "-diagnosis"
        args.output = RESULTS / f"{name}.json"
    return args


def main() -> int:
    args = parse_args()
    for tool, hint in ((SYSTEM_PYTHON, "python3-gst-1.0"), ("ffmpeg", "ffmpeg")):
        if shutil.which(tool) is None:
            print(f"{tool} not found (apt-get install {hint})", file=sys.stderr)
            return 1
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-streams-"))
    keep_workdir = False
    started = time.monotonic()
    document: dict[str, Any] = {
        "benchmark": "streams",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        with terminate_as_interrupt():
            source = workdir / "source"
            document["source"] = snapshot_source(source)
            played = prepare_footage(args)
            server = start_server(processes, workdir / "server.log")
            settings = {k: str(v) for k, v in MOUNT_SETTINGS.items()}
            if played is None:  # K = 1: one live encoder, as before --mounts
                mounts = [{"url": server.add_mount(MOUNT, "camera", **settings)}]
            else:
                mounts = [
                    {"url": server.add_mount(f"{MOUNT}{index}", "file", path=path)}
                    for index, path in enumerate(played.copies)
                ]
            urls = [mount["url"] for mount in mounts]
            keepers = start_keepers(server, processes, workdir, urls, played, args.settle)
            url = ", ".join(urls)
            bench = Bench(urls, server, keepers, processes, workdir, source, args)
            baseline_for = {str(n): min(n, args.baseline_cameras) for n in args.counts}
            document["parameters"] = {
                "cameras": args.counts,
                "window_s": args.seconds,
                "settle_s": args.settle,
                "learn_s": args.learn,
                "repeat": args.repeat,
                "quick": args.quick,
                "no_activity": args.no_activity,
                "streams_settings": args.set,
                "default_tiers": not args.no_activity and not args.set,
                "scene": args.scene_facts,
                "encode": args.encode,
                "mounts": len(urls),
                "mount_offsets_s": [0.0] if played is None else played.offsets_s,
                "mount": (
                    {"urls": urls, "kind": "camera", **settings, "shared": True}
                    if played is None
                    else {
                        "urls": urls,
                        "kind": "file",
                        "shared": True,
                        "cameras_to_mounts": "round-robin: camera i on mount i mod K",
                        "footage": played.as_dict(),
                    }
                ),
                "baseline_command": "ffmpeg " + BASELINE_ARGS,
                "baseline_max_cameras": args.baseline_cameras,
                "keeper_command": "ffmpeg " + KEEPER_ARGS,
                "idle_window_s": min(args.seconds, 15.0),
            }
            results: dict[str, Any] = {
                "idle_hub": [],
                "baseline": {},
                "pantau": {},
                "baseline_cameras_for": baseline_for,
                "data_file_system": file_system(workdir),
                "mounts": len(urls),
                "mount_offsets_s": document["parameters"]["mount_offsets_s"],
            }
            document["results"] = results
            print(
                f"streams: N={','.join(map(str, args.counts))}, {args.seconds:g} s windows,"
                f" {args.settle:g} s settle, x{args.repeat}; {url}"
            )
            if not document["parameters"]["default_tiers"]:
                print("  DIAGNOSIS: not the default tiers, so not a measure against the targets")
            if results["data_file_system"]["type"] in ("tmpfs", "ramfs"):
                print(
                    f"  warning: {workdir} is on {results['data_file_system']['type']}: the"
                    " pre-roll's files are in RAM there, outside the hub's RSS"
                )
            for r in range(args.repeat):
                print(f"  idle hub ({r + 1}/{args.repeat})", flush=True)
                results["idle_hub"].append(bench.run_hub(0, min(args.seconds, 15.0), f"idle{r}"))
                for count in sorted(set(baseline_for.values())):
                    print(f"  baseline: {count} ffmpegs ({r + 1}/{args.repeat})", flush=True)
                    run = bench.run_baseline(
                        count, args.baseline_seconds or args.seconds, f"b{count}-{r}"
                    )
                    results["baseline"].setdefault(str(count), []).append(run)
                for n in args.counts:
                    print(f"  Pantau: {n} cameras ({r + 1}/{args.repeat})", flush=True)
                    run = bench.run_hub(n, args.seconds, f"n{n}-{r}")
                    results["pantau"].setdefault(str(n), []).append(run)
                    print(
                        f"    {run['cpu_pct_per_camera']:.3f} % of a core per camera,"
                        f" {run['online_end']}/{n} online, T3 on {run['t3_running_mean']}"
                        f" (held by {run['t3_held_by_mean']}),"
                        f" event loop late by {run['loop_lag_ms_mean']} ms on average"
                        f" ({run['loop_lag_ms_max']} ms at most);"
                        f" RSS {run['rss_bytes_median'] / 1e6:.0f} MB (median of the window;"
                        f" {run['rss_bytes_max'] / 1e6:.0f} at most,"
                        f" {run['rss_bytes_end'] / 1e6:.0f} at the end),"
                        f" {run['rss_growth_mb_per_min']:+.1f} MB/min in the window;"
                        f" wrote {run['io']['wchar'] / 1e6:.0f} MB,"
                        f" {run['io']['storage_bytes'] / 1e6:.2f} MB of it to storage",
                        flush=True,
                    )
                    if args.seconds >= 300:  # a soak: show the shape of the memory's growth
                        series = ", ".join(f"{m:g}: {mb:g}" for m, mb in run["rss_mb_by_minute"])
                        print(f"    RSS (minute: MB): {series}", flush=True)
            rows = summarize(results)
            document["summary"] = rows
            document["elapsed_s"] = round(time.monotonic() - started, 1)
    except KeyboardInterrupt:
        print("interrupted: stopping every process", file=sys.stderr)
        keep_workdir = True
        return 130
    except Exception:
        keep_workdir = True
        raise
    finally:
        processes.stop_all()
        if keep_workdir:
            print(f"logs kept in {workdir}", file=sys.stderr)
    results["mount_restarts"] = mount_restarts(workdir / "server.log", len(urls))
    print_table(rows, results)
    valid = all(row["valid"] for row in rows)
    document["valid"] = valid
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"results: {args.output}")
    if not valid:
        print(f"INVALID run: logs kept in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    missed = any(v == "MISS" for row in rows for v in row["targets"].values())
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
