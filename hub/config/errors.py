"""Configuration problems, told in plain words with the file, line and field they concern."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]
"""Where a value sits in the configuration: ("cameras", 2, "lat")."""

SENSITIVE_FIELDS = frozenset({"password", "database_url", "channels", "url"})
"""Fields whose values are never repeated in a message: they may hold credentials."""

_LONGEST_SHOWN = 60


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file, such as a wrong value or a dangling reference."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return ": ".join([where, self.path, self.message] if self.path else [where, self.message])


class ConfigError(Exception):
    """A configuration could not be loaded; `issues` lists every problem, not only the first."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue]]]:
        return (ConfigError, (self.issues,))


def format_path(loc: Loc) -> str:
    """Write a location the way the file reads: cameras[2].lat, hub.web.port."""
    text = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def describe_value(value: Any) -> str:
    """A short, plain rendering of a value from the file, for "got ..." in messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if len(value) > _LONGEST_SHOWN:
            value = value[: _LONGEST_SHOWN - 3] + "..."
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return f"a value of type {type(value).__name__}"


def is_sensitive(loc: Loc) -> bool:
    """Whether the value at `loc` may hold a credential and so must not be quoted back."""
    return any(part in SENSITIVE_FIELDS for part in loc if isinstance(part, str))


# Pydantic error types, and the plain words said instead; `None` means "worked out below".
_PLAIN: dict[str, str | None] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "path_type": "must be a file or folder path",
    "invalid_key": "keys must be text",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": None,
    "enum": None,
    "too_short": None,
    "value_error": None,
}

# Error types after which the offending value is quoted, and with what separator.
_SHOW_VALUE: dict[str, str] = {
    **dict.fromkeys(
        [
            "int_parsing",
            "int_type",
            "int_from_float",
            "float_parsing",
            "float_type",
            "bool_parsing",
            "bool_type",
            "string_type",
            "list_type",
            "dict_type",
            "model_type",
            "model_attributes_type",
            "path_type",
            "greater_than",
            "greater_than_equal",
            "less_than",
            "less_than_equal",
            "literal_error",
            "enum",
            # raised by hub.config.models
            "out_of_range",
            "slug",
            "number_type",
        ],
        ", got ",
    ),
    "unknown_time_zone": " ",
}


def _number(value: Any) -> Any:
    # pydantic turns the bound of a float field into a float: say "0", not "0.0"
    return int(value) if isinstance(value, float) and value.is_integer() else value


def error_location(error: ErrorDetails) -> Loc:
    """The place an error concerns, without pydantic's internal markers."""
    parts = list(error["loc"])
    if parts and (parts[-1] == "[key]" or error["type"] == "invalid_key"):
        # the error is about a mapping key, which the file wrote as text: plugins.1, not plugins[1]
        parts = (
            [*parts[:-2], str(parts[-2])] if parts[-1] == "[key]" else [*parts[:-1], str(parts[-1])]
        )
    loc: Loc = tuple(parts)
    field = (error.get("ctx") or {}).get("field")
    return (*loc, field) if isinstance(field, str) else loc


def error_value(error: ErrorDetails) -> Any:
    """The value an error is about (a validator may name a field inside its input)."""
    ctx = error.get("ctx") or {}
    return ctx.get("value") if "field" in ctx else error.get("input")


def plain_message(
    error: ErrorDetails, *, hide_value: bool = False, known_fields: Sequence[str] = ()
) -> str:
    """Say what is wrong in the words of someone editing the file, not of pydantic."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error_value(error)
    if kind not in _PLAIN:
        message = error["msg"]
    elif kind in ("literal_error", "enum"):
        choices = str(ctx.get("expected", ""))
        head, _, last = choices.rpartition(" or ")
        message = f"must be one of {head}, {last}" if head else f"must be {choices}"
    elif kind == "too_short":
        least = ctx.get("min_length", 1)
        message = "must not be empty" if least == 1 else f"must have at least {least} items"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    else:
        message = str(_PLAIN[kind]).format(**{key: _number(item) for key, item in ctx.items()})
    separator = _SHOW_VALUE.get(kind)
    if separator is not None and not hide_value:
        message += separator + describe_value(value)
    if kind == "string_type" and isinstance(value, int | float):
        message += " (put it in quotes)"
    if kind == "extra_forbidden":
        name = error_location(error)[-1]
        close = get_close_matches(str(name), known_fields, n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
    return message
