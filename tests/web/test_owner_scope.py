"""An owner's user reaches nothing of another owner's, on every route of the hub.

The walk takes every route the app has (core and plugin, today's and those added later) and
calls it as the user of owner A (`sunrise`) with owner B's (`plaza`) ids: in the path, in the
query and in the body. No answer may hold any id or name of B's or of the agency's (`dlh-kota`);
a call that names B's thing in its path must be refused; and B's and the agency's data in the
store must be the same after the walk as before. A route whose path parameter the world cannot
make for B fails the walk, saying what to add to tests/web/owner_world.py. Strangers and wrong
roles are walked in test_routes.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import pytest
import pytest_asyncio

from hub.access import OPEN, ROLE_ACCESS, Role
from tests.web.owner_world import BODIES, PARAMETER, World, differences, running_world
from tests.web.test_routes import Route, routes

PLACEHOLDER = "tidak-ada-di-sini"
"""A path value nobody has: for routes no owner may call, which the gate refuses first."""
READ_AT_MOST = 1_000_000
"""Bytes of an answer searched (a live view streams forever)."""
READ_FOR = 3.0
"""Seconds an answer is read at most."""


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One city for the module: its tests read what they need of it, and change nothing else."""
    async with running_world(tmp_path_factory.mktemp("city")) as running:
        yield running


@dataclass(frozen=True)
class Call:
    """One request of the walk."""

    route: Route
    path: str
    names_b: tuple[str, ...]
    """The path parameters that carry B's values."""
    query: dict[str, str]
    body: dict[str, Any] | str | None
    """JSON, or CSV when a string."""

    def __str__(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query.items()) if self.query else ""
        body = f" {json.dumps(self.body)}" if self.body else ""
        return f"{self.route.method} {self.path}{query}{body}"

    def asked(self) -> set[str]:
        """The values the request itself gives, in lower case: an answer may repeat them."""
        given = [*self.path.split("/"), *self.query.values()]
        if isinstance(self.body, str):
            given.extend(re.split(r"[,\n]", self.body))
        elif self.body is not None:
            given.extend(str(value) for value in self.body.values())
        return {unquote(value).lower() for value in given if value}


async def calls_of(world: World, route: Route) -> list[Call]:
    """Route's calls as A: B's values in the path, then B's references in query and body."""
    if route.access in OPEN and route.method != "GET":
        return []  # signing in and out, accepting an invite: they act on the caller alone
    owners_may = route.access not in OPEN and route.access in ROLE_ACCESS[Role.OWNER]
    choices: list[list[tuple[str, str, bool]]] = []
    for name in PARAMETER.findall(route.path):
        values = await world.values(name, world.b)
        if values is None and owners_may:
            pytest.fail(
                f"{route.method} {route.path}: the cross-owner walk cannot make owner B's "
                f"{name!r}. Add a maker for {name!r} to PARAMETERS in tests/web/owner_world.py "
                "(how to make plaza's one through the API), so that the walk proves owner A "
                "cannot reach it."
            )
        given = [(name, value, True) for value in values or []]
        choices.append(given or [(name, PLACEHOLDER, False)])
    calls = []
    for chosen in itertools.product(*choices):
        path = route.path
        for name, value, _ in chosen:
            path = re.sub(r"\{" + name + r"(?::[^}]*)?\}", quote(value, safe=""), path)
        names_b = tuple(name for name, _, of_b in chosen if of_b)
        calls.extend(_variants(world, route, path, names_b))
    return calls


def _variants(world: World, route: Route, path: str, names_b: tuple[str, ...]) -> list[Call]:
    changes = route.method not in ("GET", "HEAD")
    calls = [Call(route, path, names_b, {}, {} if changes else None)]
    for key, value in world.b.references().items():
        calls.append(Call(route, path, names_b, {key: value}, {key: value} if changes else None))
    if changes:
        calls.append(Call(route, path, names_b, {}, {"name": "Diambil Alih"}))
        whole = BODIES.get((route.method, route.path))
        if whole is not None:
            calls.append(Call(route, path, names_b, {}, whole(world.b)))
    return calls


async def send(http: aiohttp.ClientSession, base: str, call: Call) -> tuple[int, str]:
    """The answer's status, and its headers and body as text (a stream: what came in time)."""
    if isinstance(call.body, str):
        given: dict[str, Any] = {"data": call.body, "headers": {"Content-Type": "text/csv"}}
    else:
        given = {"json": call.body}
    async with http.request(
        call.route.method,
        base + call.path,
        params=call.query or None,
        allow_redirects=False,
        **given,
    ) as answer:
        chunks: list[bytes] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(READ_FOR):
                async for chunk in answer.content.iter_any():
                    chunks.append(chunk)
                    if sum(map(len, chunks)) > READ_AT_MOST:
                        break
        headers = "\n".join(f"{name}: {value}" for name, value in answer.headers.items())
        body = b"".join(chunks).decode("utf-8", errors="replace")
        return answer.status, f"{headers}\n{body}".lower()


def problems_of(world: World, call: Call, status: int, text: str) -> list[str]:
    """What is wrong with A's answer to `call`."""
    found = []
    if status == 401:
        found.append(f"{call}: 401, owner A's session stopped holding during the walk")
    elif status >= 500:
        found.append(f"{call}: {status}, the hub failed instead of answering")
    if call.names_b and status < 400:
        named = ", ".join(call.names_b)
        found.append(f"{call}: {status} to owner A for owner B's {named}: must be 403 or 404")
    # An answer may repeat a value the request gave ("no camera 'plaza-lobi' of sunrise"), as a
    # whole word; nothing else of B's may show.
    for value in sorted(call.asked(), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", "", text)
    for side in (world.b, world.opd):
        shown = ", ".join(repr(mark) for mark in sorted(side.marks) if mark in text)
        if shown:
            found.append(f"{call}: the answer ({status}) holds {side.owner}'s {shown}")
    return found


async def test_owner_a_reaches_nothing_of_owner_b_on_any_route(world: World) -> None:
    every = routes(world.app)
    await world.make_all(world.b, {name for r in every for name in PARAMETER.findall(r.path)})
    plans = [call for route in every for call in await calls_of(world, route)]
    walked = {(call.route.method, call.route.path) for call in plans}
    skipped = {(r.method, r.path) for r in every if r.access in OPEN and r.method != "GET"}
    assert walked == {(r.method, r.path) for r in every} - skipped
    assert ("GET", "/api/audit.csv") in walked and ("POST", "/api/ingest/events") in walked

    # The marks are what B's data really shows: the admin sees them where A must not.
    for path, mark in [
        ("/api/cameras", world.b.camera),
        ("/api/incidents", world.b.incidents[1]),
        ("/api/audit", world.b.user),
    ]:
        status, answer = await world.call("GET", path)
        assert status == 200 and mark in json.dumps(answer), path
    # The walk can fail: B's own user is let through to B's things, and the checks say so.
    own = await world.signed_in(world.b.user)
    snapshot = next(call for call in plans if call.route.path.endswith("/snapshot"))
    status, text = await send(own, world.base, snapshot)
    assert any("must be 403 or 404" in p for p in problems_of(world, snapshot, status, text))
    listing = next(call for call in plans if call.path == "/api/cameras")
    status, text = await send(own, world.base, listing)
    assert any(world.b.camera in p for p in problems_of(world, listing, status, text))

    http = await world.signed_in(world.a.user)
    await world.settled()
    before = [await world.dump(side) for side in (world.b, world.opd)]
    assert {"owners", "sites", "cameras", "incidents", "audit_records"} <= set(before[0])
    found: list[str] = []
    for call in plans:
        status, text = await send(http, world.base, call)
        found.extend(problems_of(world, call, status, text))
        if status == 401:
            http = await world.signed_in(world.a.user)
    await world.settled()
    after = [await world.dump(side) for side in (world.b, world.opd)]
    changed = [
        line for old, new in zip(before, after, strict=True) for line in differences(old, new)
    ]
    assert not (found or changed), "\n".join(
        ["owner A reached another owner's data:", *found, "and changed it:", *changed]
    )


async def test_owners_read_their_own_incidents_and_audit_records_only(world: World) -> None:
    a, b = world.a, world.b
    http = await world.signed_in(a.user)

    async def get(path: str, **query: str) -> tuple[int, Any]:
        async with http.get(world.base + path, params=query) as answer:
            text = await answer.text()
            is_json = answer.content_type == "application/json"
            return answer.status, json.loads(text) if is_json else text

    status, answer = await get("/api/incidents")
    assert status == 200
    assert {incident["id"] for incident in answer["incidents"]} == set(a.incidents)
    status, answer = await get("/api/incidents", state="triggered")
    assert [incident["id"] for incident in answer["incidents"]] == [a.incidents[1]]
    async with http.post(f"{world.base}/api/incidents/{b.incidents[1]}/ack", json={}) as refused:
        assert refused.status == 403  # owners read incidents; the command center handles them

    status, answer = await get("/api/audit")
    records = answer["records"]
    assert status == 200 and {record["owner"] for record in records} == {a.owner}
    actions = {record["action"] for record in records}
    assert {"snapshot.view", "incident.ack", "audit.export"} <= actions
    status, answer = await get("/api/audit", owner=b.owner)
    assert status == 403 and "leave out owner=" in answer["error"]
    status, answer = await get("/api/audit", owner=a.owner)
    assert status == 200 and {record["owner"] for record in answer["records"]} == {a.owner}
    status, theirs = await get("/api/audit", camera=b.camera)
    status_nobody, nobody = await get("/api/audit", camera="tidak-ada")
    assert status == status_nobody == 404  # B's camera looks like no camera at all
    assert theirs["error"].replace(b.camera, "?") == nobody["error"].replace("tidak-ada", "?")
    status, answer = await get("/api/audit", camera=a.camera)
    assert status == 200 and answer["records"]
    assert {record["camera"] for record in answer["records"]} == {a.camera}

    status, _ = await get("/api/audit.csv", owner=b.owner)
    assert status == 403
    status, text = await get("/api/audit.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and rows and {row["owner"] for row in rows} == {a.owner}
    assert rows[-1]["action"] == "audit.export"  # the export is recorded, in its own file

    # A token of A's user is held the same way; the admin reads everyone's.
    _, secret = await world.accounts.tokens.create(a.user, ["audit:read"])
    status, answer = await world.call("GET", "/api/audit")
    assert {record["owner"] for record in answer["records"]} >= {a.owner, b.owner}
    status, answer = await world.call("GET", f"/api/audit?owner={b.owner}")
    assert answer["records"] and {record["owner"] for record in answer["records"]} == {b.owner}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as machine:
        async with machine.get(world.base + "/api/audit") as answer:
            records = (await answer.json())["records"]
        async with machine.get(world.base + f"/api/audit?owner={b.owner}") as refused:
            assert refused.status == 403
    assert records and {record["owner"] for record in records} == {a.owner}
