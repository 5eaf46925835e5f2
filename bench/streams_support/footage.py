"""The footage of bench_streams.py's K mounts: encoded once like a camera, cut into K rotations.

    prepare(CAR_VIDEO, mounts=4, cache=Path("~/.cache/pantau/bench-streams"))

1. The footage is encoded ONCE with ffmpeg/libx264 as a typical camera sends it (`camera`, the
   default): H.264 Main profile (CABAC entropy coding, the deblocking filter on), I and P
   pictures only, one reference, a simple motion search (x264 superfast, as the activity
   benchmark's camera encodes), CBR 2000 kbit/s with a 600 ms VBV buffer, a keyframe exactly
   every 2 s, no scene cuts, one slice per picture, 1280x720 at 15 fps; trimmed to a whole
   number of GOPs so that the loop's seam is a GOP boundary too. Main is the default H.264
   profile of the camera manuals we read (Pelco C2953M-A, Cisco 5010/5011 user guide; others
   default to High), and "IP" the usual GOP structure. `ultrafast` is the former encode, at the
   settings of the RTSP test server's live `camera` mount (x264enc ultrafast, zerolatency:
   constrained baseline, CAVLC, no deblocking), kept for comparison with earlier results: its
   pictures cost about half as much to decode (measured: the baseline's decode and scale of
   the 30 s, from the file, 0.55-0.75 s of CPU against 1.1-1.3 s for `camera`).
2. Copy i of K (i = 0 .. K-1) is the same footage rotated: it starts at the keyframe nearest to
   i/K of the way in, runs to the end, then goes on with the part before that keyframe. It is
   cut and joined with `-c copy` (ffmpeg's concat demuxer, inpoint/outpoint on keyframes): no
   second encode, the same bytes in another order. Copy 0 is the encoded footage itself.

The server plays each copy on a `file` mount (no re-encoding, looped in real time). Everything
lands in the cache folder under a key made of the source file's digest, the settings and
ffmpeg's version, so later runs reuse it; writes go through a temporary name, then a rename.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WIDTH, HEIGHT, FPS, BITRATE_KBPS, GOP_S = 1280, 720, 15, 2000, 2
VBV_BUFFER_MS = 600
"""x264enc's vbv-buf-capacity default: what the `camera` mount's encoder runs with."""
GOP_FRAMES = FPS * GOP_S
_COMMON_ARGS = [
    "-an",
    "-vf",
    f"scale={WIDTH}:{HEIGHT}:flags=bilinear,fps={FPS}",
    "-pix_fmt",
    "yuv420p",
    "-c:v",
    "libx264",
    "-b:v",
    f"{BITRATE_KBPS}k",
    "-maxrate",
    f"{BITRATE_KBPS}k",
    "-bufsize",
    f"{BITRATE_KBPS * VBV_BUFFER_MS // 1000}k",
    "-g",
    str(GOP_FRAMES),
    "-keyint_min",
    str(GOP_FRAMES),
    "-sc_threshold",
    "0",
    "-bf",
    "0",
    # zerolatency: no lookahead and no B-frames, as a camera streams.
    "-tune",
    "zerolatency",
    # One slice per picture, as most cameras send. zerolatency's sliced threads would cut each
    # picture in as many slices as cores, and the test server's payloader puts SPS/PPS before
    # every IDR slice: clients then see each keyframe as two half pictures.
    "-x264-params",
    "sliced-threads=0:slices=1",
    # One encoder thread: with frame threads x264 gives other bytes on each run, and what the
    # activity meter makes of a clip in a loop can hang on them (docs/streams.md, activity).
    # The same bytes on every run and machine (with the same FFmpeg) keep runs comparable.
    "-threads",
    "1",
]
ENCODES = {
    "camera": (
        "main (CABAC, deblocking, I and P pictures, one reference; x264 superfast)",
        [*_COMMON_ARGS, "-preset", "superfast", "-profile:v", "main", "-refs", "1"],
    ),
    "ultrafast": (
        "baseline (constrained: CAVLC, no deblocking, no B-frames; x264 ultrafast)",
        [*_COMMON_ARGS, "-preset", "ultrafast", "-profile:v", "baseline"],
    ),
}
"""Each encode's H.264 profile in words and ffmpeg's output options (the frame count is added
per source)."""
DEFAULT_ENCODE = "camera"
DEFAULT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pantau" / "bench-streams"
)


@dataclass
class Footage:
    """The K copies and how they were made."""

    source: str
    encoded: str
    mounts: int
    copies: list[str]
    offsets_s: list[float]
    """Where in the encoded footage each copy starts (a keyframe), in seconds."""
    duration_s: float
    frames: int
    keyframes: int
    settings: dict[str, Any]
    cache_key: str
    encode_s: float | None
    """Seconds this run spent encoding (None: taken from the cache)."""
    cut_s: float | None
    """Seconds this run spent cutting the copies (None: all taken from the cache)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _ffmpeg_version() -> str:
    return _run(["ffmpeg", "-version"]).split("\n", 1)[0]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packets(path: Path) -> list[tuple[float, bool]]:
    """(pts in seconds, keyframe) of every video packet of a file, in decoding order."""
    out = _run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0"]
        + ["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", str(path)]
    )
    found = []
    for line in out.splitlines():
        pts, _, flags = line.partition(",")
        if pts and pts != "N/A":
            found.append((float(pts), "K" in flags))
    return found


def source_frames(path: Path) -> int:
    """How many frames the source gives at FPS, cut down to whole GOPs."""
    # The stream's duration; Matroska (the day scene's file) records only the container's.
    found = _run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0"]
        + ["-show_entries", "stream=duration:format=duration", "-of", "csv=p=0", str(path)]
    ).split()
    duration = next(float(value) for value in found if value not in ("N/A", ""))
    gops = math.floor(duration * FPS / GOP_FRAMES)
    if gops < 1:
        raise RuntimeError(f"{path} is shorter than one GOP ({GOP_S} s)")
    return gops * GOP_FRAMES


def atomic_write(dest: Path, make: Any) -> None:
    """make(tmp_path) writes the file; it becomes `dest` only once complete."""
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.tmp{dest.suffix}")
    try:
        make(tmp)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def encode(source: Path, dest: Path, frames: int, args: list[str]) -> None:
    def make(tmp: Path) -> None:
        _run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *args]
            + ["-frames:v", str(frames), "-movflags", "+faststart", str(tmp)]
        )

    atomic_write(dest, make)


def rotate(encoded: Path, offset_s: float, dest: Path) -> None:
    """`encoded` from the keyframe at `offset_s` to its end, then its start up to that keyframe."""
    listing = dest.with_suffix(".txt")
    name = str(encoded.resolve()).replace("'", "'\\''")
    listing.write_text(
        f"ffconcat version 1.0\nfile '{name}'\ninpoint {offset_s:.6f}\n"
        f"file '{name}'\noutpoint {offset_s:.6f}\n"
    )

    def make(tmp: Path) -> None:
        _run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0"]
            + ["-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(tmp)]
        )

    try:
        atomic_write(dest, make)
    finally:
        listing.unlink(missing_ok=True)


def offsets(keyframes: list[float], duration: float, mounts: int) -> list[float]:
    """Mount i's start: the keyframe nearest to i/K of the way in (mount 0 at 0)."""
    starts = []
    for index in range(mounts):
        target = duration * index / mounts
        starts.append(min(keyframes, key=lambda key: abs(key - target)))  # noqa: B023
    return starts


def check_copy(path: Path, frames: int, start: float, gop_s: float) -> None:
    """Every frame is there once, the copy opens on a keyframe, keyframes stay a GOP apart."""
    found = packets(path)
    if len(found) != frames:
        raise RuntimeError(f"{path}: {len(found)} frames, not {frames} (start {start} s)")
    keys = sorted(pts for pts, key in found if key)
    if not found[0][1] or len(keys) != frames // GOP_FRAMES:
        raise RuntimeError(f"{path}: keyframes at {keys[:20]} (start {start} s)")
    gaps = {round(b - a, 3) for a, b in zip(keys, keys[1:], strict=False)}
    if gaps and gaps != {round(gop_s, 3)}:
        raise RuntimeError(f"{path}: keyframe gaps {sorted(gaps)}, not {gop_s} s")


def prepare(
    source: Path, mounts: int, cache: Path = DEFAULT_CACHE, encoding: str = DEFAULT_ENCODE
) -> Footage:
    """The encoded footage and its K rotated copies, made now or taken from the cache."""
    if mounts < 1:
        raise ValueError("need at least one mount")
    profile, args = ENCODES[encoding]
    cache.mkdir(parents=True, exist_ok=True)
    frames = source_frames(source)
    settings = {
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "bitrate_kbps": BITRATE_KBPS,
        "vbv_buffer_ms": VBV_BUFFER_MS,
        "gop_s": GOP_S,
        "encode": encoding,
        "profile": profile,
        "ffmpeg_args": " ".join(args) + f" -frames:v {frames}",
        "ffmpeg": _ffmpeg_version(),
    }
    key = hashlib.sha256(
        json.dumps({"source": file_digest(source), **settings}, sort_keys=True).encode()
    ).hexdigest()[:16]
    encoded = cache / f"camera-{key}.mp4"
    encode_s: float | None = None
    if not encoded.exists():
        started = time.monotonic()
        encode(source, encoded, frames, args)
        encode_s = round(time.monotonic() - started, 2)
    found = packets(encoded)
    keyframes = sorted(pts for pts, is_key in found if is_key)
    duration = len(found) / FPS
    if len(found) != frames or not keyframes:
        encoded.unlink(missing_ok=True)
        raise RuntimeError(f"{encoded}: {len(found)} frames, not {frames}; removed, run again")
    starts = offsets(keyframes, duration, mounts)
    copies: list[Path] = []
    cut_s: float | None = None
    for index, start in enumerate(starts):
        if index == 0 or start == 0:
            copies.append(encoded)
            continue
        copy = cache / f"camera-{key}-from-{start:07.3f}s.mp4"
        if not copy.exists():
            started = time.monotonic()
            rotate(encoded, start, copy)
            try:
                check_copy(copy, frames, start, GOP_S)
            except RuntimeError:
                copy.unlink(missing_ok=True)
                raise
            cut_s = round((cut_s or 0.0) + time.monotonic() - started, 2)
        copies.append(copy)
    return Footage(
        source=str(source),
        encoded=str(encoded),
        mounts=mounts,
        copies=[str(c) for c in copies],
        offsets_s=[round(s, 3) for s in starts],
        duration_s=round(duration, 3),
        frames=len(found),
        keyframes=len(keyframes),
        settings=settings,
        cache_key=key,
        encode_s=encode_s,
        cut_s=cut_s,
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path)
    parser.add_argument("--mounts", type=int, default=4)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--encode", choices=sorted(ENCODES), default=DEFAULT_ENCODE)
    arguments = parser.parse_args()
    print(
        json.dumps(
            prepare(
                arguments.source, arguments.mounts, arguments.cache_dir, arguments.encode
            ).as_dict(),
            indent=2,
        )
    )
