"""Synthetic cameras for demos and tests: scripted scenes of the Pati sites, made with PyAV."""

from __future__ import annotations

from hub import hookimpl
from hub.plugins import Register
from plugins.sim.camera import SimVendor


@hookimpl
def register_camera_vendors(register: Register) -> None:
    """Offer the `sim` vendor."""
    register(SimVendor())
