"""The hub's HTTP side: the REST API and, later, the dashboard."""

from hub.web.app import build_app, hub_key, serve

__all__ = ["build_app", "hub_key", "serve"]
