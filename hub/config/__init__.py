"""Pantau configuration: YAML in the Home Assistant manner, validated by pydantic.

The names below are loaded on first use: the whole `Config` is assembled from the models of
other packages (incidents' rules and responders), which themselves build on `hub.config.base`
and `hub.config.errors`; importing those must not pull the whole configuration in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hub.config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from hub.config.models import (
        CameraConfig,
        Config,
        Contact,
        HubSettings,
        Owner,
        PluginOptions,
        Site,
        WebSettings,
        config_json_schema,
        default_config,
        secret_values,
    )
    from hub.config.yamlload import load_config
    from hub.incidents.routing import Responder
    from hub.incidents.rules import Rule

_LAZY = {
    **dict.fromkeys(
        (
            "CameraConfig",
            "Config",
            "Contact",
            "HubSettings",
            "Owner",
            "PluginOptions",
            "Site",
            "WebSettings",
            "config_json_schema",
            "default_config",
            "secret_values",
        ),
        "hub.config.models",
    ),
    "load_config": "hub.config.yamlload",
    "Responder": "hub.incidents.routing",
    "Rule": "hub.incidents.rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CameraConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Contact",
    "HubSettings",
    "Owner",
    "PluginOptions",
    "Responder",
    "Rule",
    "Site",
    "WebSettings",
    "config_json_schema",
    "default_config",
    "load_config",
    "secret_values",
]
