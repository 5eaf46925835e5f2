"""Giving the memory of stopped decoders back: real T3 decoders on the test footage.

Without the trim, most of what twelve stopped decoders had taken stayed resident here (glibc
2.36, T2 going on: 16 of 24 MB in one run), so the test fails if `trim` does nothing.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from hub.streams import memory
from hub.streams.engine import TRIM_AFTER, StreamEngine
from hub.streams.pictures import KeyframeDecoder, grey_small, snapshot_pictures
from tests.streams_pictures.media import read_units

_ALONE = "PANTAU_TEST_MEMORY_ALONE"
"""Set in the pytest that runs the trim test on its own."""
_NAME = "test_trim_gives_back_what_stopped_decoders_freed"


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not memory.AVAILABLE, reason="this C library has no malloc_trim (not glibc)")
def test_trim_gives_back_what_stopped_decoders_freed() -> None:
    if os.environ.get(_ALONE) is None:
        # In a pytest of its own: in the suite's worker, the hundreds of MB earlier tests left
        # in its heaps moved the figures (2 of 4 clean clones on 2026-11-25: 8 of 16 MB stayed).
        # A bare spawned process will not do either: its small heap gives its top back without
        # the trim, so the test could not fail there.
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"{__file__}::{_NAME}",
            ],
            env={**os.environ, _ALONE: "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:]
        return
    info, units = read_units()
    keyframes = [unit for unit in units if unit.keyframe]

    def keyframe(index: int) -> None:  # T2: a decoder per keyframe, a snapshot from it
        frame = KeyframeDecoder(info).decode(keyframes[index % len(keyframes)])
        assert frame is not None
        snapshot_pictures(frame)

    def decoder(_: int) -> KeyframeDecoder:
        made = KeyframeDecoder(info, all_frames=True)
        for unit in units[:60]:
            frame = made.decode(unit)
            if frame is not None:
                grey_small(frame)
        return made

    with ThreadPoolExecutor(2) as pool:  # as the engine's decode threads
        list(pool.map(keyframe, range(20)))  # T2 has run for a while
        pool.submit(memory.trim).result()
        start = resident_mb()
        decoders = list(pool.map(decoder, range(12)))
        peak = resident_mb()
        del decoders
        gc.collect()
        list(pool.map(keyframe, range(20)))  # T2 goes on meanwhile: the heaps stay in use
        freed = resident_mb()
        assert pool.submit(memory.trim).result()
    after = resident_mb()
    grown = peak - start
    assert grown > 10, (start, peak)  # twelve decoders of 768x432 pictures
    assert after - start < 0.25 * grown, (start, peak, freed, after)


def test_the_engine_trims_once_a_moment_after_decoders_stop_even_if_more_keep_stopping() -> None:
    """On a busy hub T3 decoders stop every second: the trim comes TRIM_AFTER after the first
    stop, not pushed back by each one after it."""
    with ThreadPoolExecutor(1) as pool:
        engine = SimpleNamespace(_decoding=6, _trim_at=None, trims=0, executor=pool)
        trim_at = []
        for second, decoding in enumerate([5, 4, 3, 2, 1, 0, 0, 0]):
            before = engine.trims
            StreamEngine._trim_after_decoders_stop(cast(StreamEngine, engine), decoding, second)
            if engine.trims > before:
                trim_at.append(second)
    assert trim_at == ([int(TRIM_AFTER), 2 * int(TRIM_AFTER) + 1] if memory.AVAILABLE else [])
