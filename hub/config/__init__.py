"""Pantau configuration: YAML in the Home Assistant manner, validated by pydantic."""

from hub.config.errors import ConfigError, ConfigIssue
from hub.config.models import (
    CameraConfig,
    Config,
    Contact,
    HubSettings,
    Owner,
    PluginOptions,
    Responder,
    Rule,
    Site,
    WebSettings,
    config_json_schema,
    default_config,
    secret_values,
)
from hub.config.yamlload import load_config

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
