"""ISAPI XML as plain data: namespaces dropped, repeated elements as lists, DTDs refused."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 (documents with a DTD are refused before parsing)
from collections.abc import Iterator, Mapping
from typing import Any

MAX_DEPTH = 32
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _value(element: ET.Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"XML nested deeper than {MAX_DEPTH} levels")
    children = list(element)
    if not children:
        return (element.text or "").strip()
    data: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in children:
        key = _local(child.tag)
        value = _value(child, depth + 1)
        if key not in data:
            data[key] = value
        elif key in repeated:
            data[key].append(value)
        else:
            data[key] = [data[key], value]
            repeated.add(key)
    return data


def parse_xml(payload: bytes | str) -> tuple[str, Any]:
    """The root element's local name and its content (a dict, or text for a leaf).

    Raises ValueError for anything that is not well-formed XML, or that declares a DTD (which
    no ISAPI answer needs, and which is how entity-expansion attacks come in).
    """
    raw = payload.encode("utf-8", errors="replace") if isinstance(payload, str) else payload
    if _DTD.search(raw):
        raise ValueError("XML with a DTD is refused")
    try:
        root = ET.fromstring(raw)  # noqa: S314 (no DTD, so no entities to expand)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    return _local(root.tag), _value(root, 0)


def _walk(value: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in nested dicts and lists, breadth before depth per level."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        yield from ((str(key), item) for key, item in value.items())
        for item in value.values():
            yield from _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)


def text_of(value: Any) -> str | None:
    """A scalar as text (JSON numbers and booleans as ISAPI XML writes them); None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


def find_text(data: Any, *names: str) -> str | None:
    """The first non-empty scalar under any of `names` (case-insensitive), at any depth."""
    wanted = {name.lower() for name in names}
    for key, value in _walk(data):
        if key.lower() in wanted:
            text = text_of(value)
            if text:
                return text
    return None


def top_text(data: Any, *names: str) -> str | None:
    """The first non-empty scalar under any of `names` (case-insensitive), at the top level."""
    if not isinstance(data, Mapping):
        return None
    wanted = [name.lower() for name in names]
    lowered = {str(key).lower(): value for key, value in data.items()}
    for name in wanted:
        text = text_of(lowered.get(name))
        if text:
            return text
    return None


def items_of(data: Any, *path: str) -> list[Any]:
    """The elements at `path` under `data`, as a list however many there were (none: [])."""
    value = data
    for name in path:
        if not isinstance(value, Mapping):
            return []
        lowered = {str(key).lower(): item for key, item in value.items()}
        value = lowered.get(name.lower())
        if value is None:
            return []
    return value if isinstance(value, list) else [value]


def to_int(text: str | None) -> int | None:
    """A whole number from text, or None."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None
