"""Benchmark: CPU per camera of RtspSource against PyAV's own RTSP demuxer, before any decoding.

Run: python bench/bench_rtsp_reader.py [--streams 25] [--seconds 20] [--mode both]

Starts tests/streams/rtsp_server.py (system Python, GstRtspServer) with one camera-like mount:
the test footage decoded, scaled and re-encoded at 1280x720, 15 fps, 2 Mbit/s, 2 s GOP, shared,
so N clients cost the server one encoder. Each reader runs in a fresh process that opens N
streams, lets them settle, then measures its own CPU time (user + system, all threads) over the
given seconds:
  - rtsp: N RtspSource on one asyncio loop, each access unit handed to a sink that counts it;
  - pyav: N threads each reading `av.open(url, options={"rtsp_transport": "tcp"})` packets.
The number is CPU time / wall time / N, in % of one core per camera. Targets (issue): PyAV's
demuxer 0.42 %, the engine as a whole 0.25 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = ROOT / "tests" / "streams" / "rtsp_server.py"
FOOTAGE = ROOT / "tests" / "fixtures" / "media" / "car-detection.mp4"
WARMUP = 4.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure_rtsp(url: str, streams: int, seconds: float) -> dict[str, float]:
    from hub.streams.rtsp import RtspSource
    from hub.streams.units import AccessUnit

    sources = [RtspSource(url) for _ in range(streams)]
    await asyncio.gather(*(source.open() for source in sources))
    counted = {"units": 0, "bytes": 0}

    def sink(unit: AccessUnit) -> None:
        counted["units"] += 1
        counted["bytes"] += len(unit.data)

    tasks = [asyncio.create_task(source.run(sink)) for source in sources]
    await asyncio.sleep(WARMUP)
    units, size, cpu, wall = counted["units"], counted["bytes"], cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
    units, size = counted["units"] - units, counted["bytes"] - size
    for task in tasks:
        if task.done():
            task.result()  # a source that failed spoils the measure
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(source.close() for source in sources))
    return {"cpu": cpu, "wall": wall, "units": units, "bytes": size}


def measure_pyav(url: str, streams: int, seconds: float) -> dict[str, float]:
    import av

    stop = threading.Event()
    lock = threading.Lock()
    counted = {"units": 0, "bytes": 0}
    opened = threading.Barrier(streams + 1)

    def read() -> None:
        with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
            opened.wait()
            for packet in container.demux(container.streams.video[0]):
                with lock:
                    counted["units"] += 1
                    counted["bytes"] += packet.size
                if stop.is_set():
                    break

    threads = [threading.Thread(target=read, daemon=True) for _ in range(streams)]
    for thread in threads:
        thread.start()
    opened.wait()
    time.sleep(WARMUP)
    units, size, cpu, wall = counted["units"], counted["bytes"], cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
    units, size = counted["units"] - units, counted["bytes"] - size
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    return {"cpu": cpu, "wall": wall, "units": units, "bytes": size}


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        ["/usr/bin/python3", str(SERVER), "--port=0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdin is not None and process.stdout is not None
    ready = process.stdout.readline().split()
    if not ready or ready[0] != "ready":
        raise SystemExit(f"rtsp_server.py did not start: {ready}")
    process.stdin.write(
        f"add camera camera path={FOOTAGE} width=1280 height=720 fps=15 bitrate=2000 gop=2\n"
    )
    process.stdin.flush()
    reply = process.stdout.readline().split()
    if reply[0] != "ok":
        raise SystemExit(f"rtsp_server.py: {' '.join(reply)}")
    return process, reply[1]


def run_worker(mode: str, url: str, streams: int, seconds: float) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", mode, "--url", url]
    command += ["--streams", str(streams), "--seconds", str(seconds)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mode", choices=["rtsp", "pyav", "both"], default="both")
    parser.add_argument("--url", help="an RTSP URL to read instead of starting the test server")
    parser.add_argument("--worker", choices=["rtsp", "pyav"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "rtsp":
        print(json.dumps(asyncio.run(measure_rtsp(args.url, args.streams, args.seconds))))
        return
    if args.worker == "pyav":
        print(json.dumps(measure_pyav(args.url, args.streams, args.seconds)))
        return

    process = None
    url = args.url
    if url is None:
        process, url = start_server()
    try:
        modes = ["rtsp", "pyav"] if args.mode == "both" else [args.mode]
        print(f"{args.streams} streams of {url}, {args.seconds:g} s each")
        print(f"{'reader':<8}{'% core/camera':>15}{'fps/camera':>12}{'Mbit/s/camera':>15}")
        for mode in modes:
            result = run_worker(mode, url, args.streams, args.seconds)
            wall, n = result["wall"], args.streams
            print(
                f"{mode:<8}{100 * result['cpu'] / wall / n:>15.3f}"
                f"{result['units'] / wall / n:>12.2f}"
                f"{8 * result['bytes'] / wall / n / 1e6:>15.2f}"
            )
    finally:
        if process is not None:
            assert process.stdin is not None
            process.stdin.write("quit\n")
            process.stdin.close()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
