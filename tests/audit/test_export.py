"""CSV exports: RFC 4180 quoting, spreadsheet formulas defused, streamed from the store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from hub.audit import Action, Actor, ActorKind, AuditLog, AuditRecord, csv_lines
from hub.audit.export import COLUMNS, csv_header, csv_row, neutralize
from tests.audit.conftest import SARI, fill


def record(**fields: object) -> AuditRecord:
    base: dict[str, object] = {
        "seq": 7,
        "time": datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC),
        "actor": "u-1",
        "actor_kind": "user",
        "actor_name": "sari",
        "action": "live.view",
        "camera_id": "mall-lobi",
        "owner_id": "sunrise",
        "source": "10.0.0.7",
        "purpose": None,
        "details": {},
        "prev_hash": "a" * 64,
        "hash": "b" * 64,
    }
    base.update(fields)
    return AuditRecord(**base)  # type: ignore[arg-type]


def test_the_header_and_a_plain_row() -> None:
    assert csv_header() == ",".join(COLUMNS) + "\r\n"
    line = csv_row(record(details={"b": 1, "a": "x"}))
    assert line == (
        "7,2026-11-24T01:02:03.456789Z,u-1,user,sari,live.view,mall-lobi,sunrise,10.0.0.7,,"
        '"{""a"":""x"",""b"":1}",' + "a" * 64 + "," + "b" * 64 + "\r\n"
    )


def test_commas_quotes_and_line_breaks_are_quoted() -> None:
    purpose = 'Laporan "anak hilang",\r\nlantai 2'
    line = csv_row(record(purpose=purpose))
    assert '"Laporan ""anak hilang"",\r\nlantai 2"' in line
    (row,) = csv.reader(io.StringIO(line, newline=""))
    assert row[COLUMNS.index("purpose")] == purpose


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil.example","klik")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_formulas_are_defused(value: str) -> None:
    line = csv_row(record(purpose=value, actor_name=value))
    (row,) = csv.reader(io.StringIO(line, newline=""))
    assert row[COLUMNS.index("purpose")] == "'" + value
    assert row[COLUMNS.index("actor_name")] == "'" + value


def test_harmless_values_are_left_alone() -> None:
    for value in ("sari", "10.0.0.7", "2026-11-24", "a=b", "tiket-119"):
        assert neutralize(value) == value


async def test_an_export_streams_every_match_from_the_store(audit: AuditLog) -> None:
    await fill(audit, 5)
    await audit.append(
        Action.LIVE_VIEW,
        Actor("=cmd()", ActorKind.NAMED, "@attacker"),
        camera_id="mall-lobi",
        owner_id="sunrise",
        purpose="patroli, rutin",
    )
    lines = [line async for line in csv_lines(audit.stream(batch=2))]
    assert len(lines) == 7 and lines[0] == csv_header()
    rows = list(csv.DictReader(io.StringIO("".join(lines), newline="")))
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    last = rows[-1]
    assert last["actor"] == "'=cmd()" and last["actor_name"] == "'@attacker"
    assert last["purpose"] == "patroli, rutin"
    # what an owner gets: its own records only
    owned = [line async for line in csv_lines(audit.stream(owner="sunrise"))]
    assert len(owned) == 2
    # each exported row carries what its hash was taken over
    first = rows[0]
    stored = (await audit.records(limit=10))[-1]
    assert json.loads(first["details"]) == dict(stored.details)
    assert first["hash"] == stored.hash == stored.computed_hash()
    assert first["actor"] == SARI.id
