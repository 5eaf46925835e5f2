"""Pantau: a plugin-based CCTV integration hub for command centers."""

import pluggy

__version__ = "0.1.0"

PROJECT = "pantau"

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin function as the implementation of a Pantau hook."""

__all__ = ["PROJECT", "__version__", "hookimpl"]
