"""Hand the heap memory that stopped decoders freed back to the system.

A T3 decoder of a 720p stream holds about 5 MB (its codec context, reference frames, scaler and
pictures). When it stops, glibc's malloc keeps most of that in its heaps for later, and the
hub's resident memory stays at its high-water mark of leased cameras: measured on the streams
benchmark's footage with two decode threads, ten decoders added 47 MB, 31 MB of it still
resident after they were freed; `malloc_trim(0)` then gave back all but 4 MB, in 3 to 4 ms.
Elsewhere (musl, macOS) there is no `malloc_trim` and `trim` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_TRIM = _malloc_trim()
AVAILABLE = _TRIM is not None
"""Whether this C library can give freed heap memory back (glibc)."""


def trim() -> bool:
    """Give the free memory of every heap back to the system; False if this C library cannot.

    Takes milliseconds: call it from a worker thread, after decoders stop.
    """
    if _TRIM is None:
        return False
    try:
        _TRIM(0)
    except Exception:  # never worth a failure: the memory merely stays where it was
        log.debug("malloc_trim failed", exc_info=True)
        return False
    return True
