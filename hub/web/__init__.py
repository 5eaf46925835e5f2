"""The hub's HTTP side: the REST API and, later, the dashboard."""

from hub.web.app import build_app, serve
from hub.web.keys import hub_key

__all__ = ["build_app", "hub_key", "serve"]
