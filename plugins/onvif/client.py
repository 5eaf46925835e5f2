"""onvif-zeep-async as this plugin uses it, without the library's side effects on the hub.

Importing `onvif` calls `logging.basicConfig(level=INFO)`, and building an `ONVIFCamera` deletes
the process's `http_proxy`/`https_proxy` variables; both are undone here. The library reads its
WSDLs from the folder given as `wsdl_dir`; its default pointed outside the package in 4.0
(fixed by 4.2), so the bundled folder (`onvif/wsdl`) is always passed explicitly.

WS-Security: every request but `authless_*` ones carries a UsernameToken with a password digest
whose `Created` time is our clock plus the camera's `dt_diff`, which `session.py` sets from the
measured skew.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zeep.helpers
from zeep.plugins import Plugin

_root = logging.getLogger()
_handlers, _level = list(_root.handlers), _root.level
try:
    import onvif
    from onvif import ONVIFCamera, ONVIFError, ONVIFService
    from onvif.util import normalize_url
finally:
    for _handler in _root.handlers[:]:
        if _handler not in _handlers:
            _root.removeHandler(_handler)
    _root.setLevel(_level)

__all__ = [
    "ONVIFCamera",
    "ONVIFError",
    "ONVIFService",
    "ReplyCapture",
    "bundled_wsdl_dir",
    "make_camera",
    "normalize_url",
    "plain",
]

_PROXY_VARIABLES = ("http_proxy", "https_proxy")

plain: Callable[[Any], Any] = zeep.helpers.serialize_object
"""A zeep answer as plain dicts and lists."""


def bundled_wsdl_dir() -> str:
    """The WSDL folder shipped inside the onvif package."""
    return str(Path(onvif.__file__).parent / "wsdl")


def make_camera(
    host: str, port: int, username: str | None, password: str | None, wsdl_dir: str
) -> Any:
    """An `ONVIFCamera` (no I/O yet), leaving the process's proxy settings as they were."""
    saved = {name: os.environ[name] for name in _PROXY_VARIABLES if name in os.environ}
    try:
        return ONVIFCamera(
            host, port, username, password, wsdl_dir=wsdl_dir, no_cache=True, adjust_time=False
        )
    finally:
        os.environ.update(saved)


class ReplyCapture(Plugin):
    """Keeps the last envelope a service received, so notifications are read from the XML.

    zeep maps `xsd:any` message content to objects or elements depending on the schema it
    knows, and gives up on a whole answer for one bad item; the raw envelope avoids both.
    """

    def __init__(self) -> None:
        self.envelope: Any = None

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        """Remember the envelope and pass it on unchanged."""
        self.envelope = envelope
        return envelope, http_headers
