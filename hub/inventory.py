"""Import an agency's camera inventory from CSV: good rows go in, bad rows are reported by line."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from tqdm import tqdm

from hub.registry import CameraInput, CameraSource, Change, Registry, RegistryError, explain

log = logging.getLogger(__name__)

COLUMNS = (
    "id",
    "name",
    "owner",
    "site",
    "vendor",
    "url",
    "host",
    "port",
    "username",
    "password",
    "lat",
    "lon",
    "tags",
    "enabled",
)
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "ya", "on", "aktif"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "tidak", "off", "nonaktif"})


class InventoryError(Exception):
    """The file as a whole cannot be imported (not UTF-8, no header, a required column missing)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was not imported: its physical line in the file (header is line 1) and why."""

    line: int
    camera_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import did, camera by camera."""

    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a person: '3 imported, 1 updated, 0 unchanged, 2 bad rows'."""
        return (
            f"{len(self.imported)} imported, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.errors)} bad rows"
        )


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]
    problem: str | None = None


class _BadCell(ValueError):
    """A cell that cannot be read; its message is the reason shown to the user."""


async def import_cameras_csv(
    registry: Registry,
    path: Path,
    *,
    progress: bool = False,
    default_owner: str | None = None,
) -> ImportReport:
    """Import the cameras in `path`; each good row is saved on its own, whatever the others do."""
    data = await asyncio.to_thread(path.read_bytes)
    return await import_cameras_data(
        registry, data, path.name, progress=progress, default_owner=default_owner
    )


async def import_cameras_data(
    registry: Registry,
    data: bytes,
    name: str,
    *,
    progress: bool = False,
    default_owner: str | None = None,
) -> ImportReport:
    """Import the cameras in a file's bytes (`name` is what messages call it), as a file's."""
    rows, columns, ignored = _read(name, data)
    if "owner" not in columns and default_owner is None:
        raise InventoryError("the file has no owner column; add one or give a default owner")
    report = ImportReport(ignored_columns=ignored)
    # Columns absent from the file leave those fields of existing cameras as they are.
    fields = set(columns) - {"id"}

    outcomes = {
        Change.ADDED: report.imported,
        Change.UPDATED: report.updated,
        Change.UNCHANGED: report.unchanged,
    }
    first_line: dict[str, int] = {}
    bar = tqdm(rows, desc=name, unit="row", file=sys.stderr, disable=not progress)
    try:
        for row in bar:
            camera_id = row.cells.get("id") or None
            try:
                if camera_id is not None and camera_id in first_line:
                    raise _BadCell(
                        f"duplicate id {camera_id!r} (first at line {first_line[camera_id]})"
                    )
                if camera_id is not None:
                    first_line[camera_id] = row.line
                if row.problem is not None:
                    raise _BadCell(row.problem)
                camera = _camera(row.cells, default_owner)
                change = await registry.save_camera(camera, CameraSource.IMPORT, fields=fields)
            except (_BadCell, RegistryError) as exc:
                report.errors.append(RowError(row.line, camera_id, str(exc)))
                continue
            outcomes[change].append(camera.id)
    finally:
        bar.close()
    log.info("imported %s: %s", name, report.summary())
    return report


def _read(name: str, data: bytes) -> tuple[list[_Row], list[str], list[str]]:
    """The file's rows with their line numbers, its known columns, and its ignored columns."""
    try:
        # utf-8-sig drops the byte order mark Excel puts before "CSV UTF-8" files.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"{name} is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8'"
        ) from None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise InventoryError(f"{name} is empty; it needs a header row and camera rows")
    # Indonesian Excel writes ';' because ',' is the decimal separator there.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines = _numbered(reader)
    header_line, header = next(lines)
    names = [name.strip().lower() for name in header]
    _check_header(names, header_line)
    columns = [name for name in names if name in COLUMNS]
    ignored = [name for name in names if name and name not in COLUMNS]

    rows = []
    for line, cells in lines:
        problem = None
        if any(cell.strip() for cell in cells[len(names) :]):
            problem = (
                f"has {len(cells)} values but the header has {len(names)} columns;"
                " does a value with a separator in it miss its quotes?"
            )
        # Spreadsheets drop empty cells at the end of a row: pad them back.
        padded = [*cells[: len(names)], *[""] * (len(names) - len(cells))]
        values = {name: _clean(name, cell) for name, cell in zip(names, padded, strict=True)}
        rows.append(_Row(line, values, problem))
    return rows, columns, ignored


def _numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Rows that hold something, each with the physical line it starts on."""
    next_line = 1
    for cells in reader:
        line, next_line = next_line, reader.line_num + 1
        if any(cell.strip() for cell in cells):
            yield line, cells


def _check_header(names: list[str], line: int) -> None:
    missing = [name for name in ("id", "name") if name not in names]
    if missing:
        raise InventoryError(
            f"line {line}: the header has no {' or '.join(missing)} column"
            f" (columns are: {', '.join(COLUMNS)})"
        )
    if not ({"url", "host"} & set(names)):
        raise InventoryError(f"line {line}: the header needs a url or a host column")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise InventoryError(f"line {line}: column {', '.join(repeated)} appears twice")


def _clean(name: str, cell: str) -> str:
    # A password may begin or end with a space; every other value is trimmed.
    return cell if name == "password" else cell.strip()


def _camera(cells: dict[str, str], default_owner: str | None) -> CameraInput:
    if not cells.get("id"):
        raise _BadCell("id is required")
    if not cells.get("name"):
        raise _BadCell("name is required")
    owner = cells.get("owner") or default_owner
    if not owner:
        raise _BadCell("owner is required")
    values: dict[str, Any] = {"id": cells["id"], "name": cells["name"], "owner": owner}
    for name in ("site", "vendor", "url", "host", "username"):
        if cells.get(name):
            values[name] = cells[name]
    if cells.get("password"):
        values["password"] = SecretStr(cells["password"])
    if cells.get("port"):
        values["port"] = _whole_number("port", cells["port"])
    for name in ("lat", "lon"):
        if cells.get(name):
            values[name] = _number(name, cells[name])
    if cells.get("tags"):
        values["tags"] = cells["tags"].split(";")
    if cells.get("enabled"):
        values["enabled"] = _yes_or_no(cells["enabled"])
    try:
        return CameraInput(**values)
    except ValidationError as exc:
        raise _BadCell(explain(exc)) from None


def _whole_number(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _BadCell(f"{name} must be a whole number, got {text!r}") from None


def _number(name: str, text: str) -> float:
    # "-6,75" in a ';' file: a decimal comma, as Indonesian spreadsheets write it.
    candidate = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
    try:
        value = float(candidate)
    except ValueError:
        raise _BadCell(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise _BadCell(f"{name} must be a number, got {text!r}")
    return value


def _yes_or_no(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _BadCell(f"enabled must be yes or no, got {text!r}")
