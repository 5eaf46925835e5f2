"""Audit records as CSV (RFC 4180), safe to open in a spreadsheet.

A header line, then one line per record, each ended by CRLF; a field holding a comma, a quote
or a line break is quoted, quotes doubled. A field a spreadsheet would take for a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so that
opening an export runs nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence

from hub.audit.chain import HASHED_FIELDS, AuditRecord, canonical_json

COLUMNS = (*(name for name in HASHED_FIELDS if name != "v"), "hash")
"""The CSV's columns, in order; `details` is the canonical JSON the hash was taken over."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP's CSV injection list)."""


def neutralize(value: str) -> str:
    """`value`, with a leading `'` if a spreadsheet would take it for a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_line(values: Sequence[object]) -> str:
    """One CSV line of `values` (None as empty), neutralized, quoted where needed, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["" if value is None else neutralize(str(value)) for value in values])
    return buffer.getvalue()


def csv_header() -> str:
    """The header line."""
    return csv_line(COLUMNS)


def csv_row(record: AuditRecord) -> str:
    """One record's line."""
    data = record.as_dict()
    data["details"] = canonical_json(data["details"])
    return csv_line([data[column] for column in COLUMNS])


async def csv_lines(records: AsyncIterable[AuditRecord]) -> AsyncIterator[str]:
    """The header, then a line per record as `records` yields them (nothing held in memory)."""
    yield csv_header()
    async for record in records:
        yield csv_row(record)
