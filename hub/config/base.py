"""The ground every configuration model stands on: ids, numbers in range, sections, references.

Kept apart from `hub.config.models` so that the models of other packages (incidents' rules and
responders) can build on it while the whole `Config` is assembled from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hub.config.errors import Loc, format_path

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SLUG = re.compile(SLUG_PATTERN)
SKIP_REFERENCES = "skip_references"
"""Validation context key: the loader checks references itself, on the raw data, with lines."""
CONFIG_DIR = "config_dir"
"""Validation context key: the folder of the configuration file, for relative paths."""


def _check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise PydanticCustomError("slug", "must be a lowercase id of letters, digits, '-' or '_'")
    return value


def _range(low: int, high: int) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # YAML reads `yes` as true; a coordinate or port of `true` is a mistake, not 1.
        if isinstance(value, bool):
            raise PydanticCustomError("number_type", "must be a number")
        number = handler(value)
        if not low <= number <= high:
            raise PydanticCustomError(
                "out_of_range", "must be between {low} and {high}", {"low": low, "high": high}
            )
        return number

    return check


Slug = Annotated[
    str, AfterValidator(_check_slug), Field(json_schema_extra={"pattern": SLUG_PATTERN})
]
Lat = Annotated[
    float, WrapValidator(_range(-90, 90)), Field(json_schema_extra={"minimum": -90, "maximum": 90})
]
Lon = Annotated[
    float,
    WrapValidator(_range(-180, 180)),
    Field(json_schema_extra={"minimum": -180, "maximum": 180}),
]
Port = Annotated[
    int, WrapValidator(_range(1, 65535)), Field(json_schema_extra={"minimum": 1, "maximum": 65535})
]


class Section(BaseModel):
    """Base of every configuration model: unknown fields are typos, and reported."""

    # pydantic's own error text would quote inputs, passwords among them
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `cameras:` with every camera commented out is an empty list, not an error.
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if value is not None
            or (field := cls.model_fields.get(key)) is None
            or field.is_required()
        }


@dataclass(frozen=True)
class ReferenceProblem:
    """An id given twice, or an id that names nothing."""

    loc: Loc
    message: str
    first: Loc | None = None

    def describe(self, first_at: str | None) -> str:
        """The message, saying where the first occurrence is ("line 12" or "cameras[0].id")."""
        return self.message if first_at is None else f"{self.message} (first at {first_at})"


def check_references(
    info: ValidationInfo, data: Any, find: Callable[[Any], list[ReferenceProblem]]
) -> None:
    """Raise the reference problems `find` sees in `data`, unless the loader checks them itself.

    For a model's after-validator: the loader (`hub.config.yamlload`) checks references on the
    raw data, with line numbers, and asks models to skip it through SKIP_REFERENCES.
    """
    if (info.context or {}).get(SKIP_REFERENCES):
        return
    problems = find(data)
    if problems:
        raise ValueError(
            "; ".join(
                f"{format_path(problem.loc)}: "
                + problem.describe(format_path(problem.first) if problem.first else None)
                for problem in problems
            )
        )
