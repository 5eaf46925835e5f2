"""A city of two private owners and an agency, each with its own things, for the cross-owner walk.

`sunrise` (owner A) and `plaza` (owner B) are malls, `dlh-kota` is an agency (OPD). Each has a
site, a camera whose snapshots come from a real video file, two incidents raised by events on
the bus (one acknowledged by the operator), audit records of real views, acknowledgements and
exports, and a user of role owner. B also gets, through the API, whatever the app's routes take
as path parameters: a camera and a site of its own making, a sharing agreement, a clip, a mask
lift. `tests/web/test_owner_scope.py` walks every route as A's user with B's ids.

To extend it when a route takes a new path parameter, add one line to `PARAMETERS`: the
parameter's name and how to make B's ones (an async function of the world and the owner's side
that makes them through the hub's real API and answers their ids). What a maker makes is that
owner's: its ids join the owner's marks, and its rows join the owner's dump. A new kind of data
needs nothing else: the dump reads every table of the store. A route that checks its body
before what the body names gets a whole body in `BODIES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from hub.access import Accounts, Role
from hub.config import Config
from hub.events import Event
from hub.runtime import Hub
from hub.store import Base
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.test_running import free_port

FOOTAGE = Path(__file__).resolve().parents[1] / "fixtures" / "media" / "car-detection.mp4"
PASSWORD = "Sandi-Dunia-Dua-Pemilik-2026"
"""Every user's password in this world."""
PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
"""A path parameter in a route's path, such as `{camera_id}`."""
OPERATOR = "sari"
"""The command center's operator, who acknowledges one incident of each owner."""


@dataclass
class Side:
    """One owner: its things, and every string that names one of them (its marks)."""

    owner: str
    owner_name: str
    kind: str
    site: str
    site_name: str
    camera: str
    camera_name: str
    user: str
    user_id: str = ""
    incidents: list[str] = field(default_factory=list)
    made: dict[str, list[str]] = field(default_factory=dict)
    """Path parameter -> this owner's values, as the makers made them."""

    @property
    def marks(self) -> set[str]:
        """Every id and name of this owner's things, in lower case."""
        names = {
            self.owner,
            self.owner_name,
            self.site,
            self.site_name,
            self.camera,
            self.camera_name,
            self.user,
            self.user_id,
            *self.incidents,
            *(value for values in self.made.values() for value in values),
        }
        return {name.lower() for name in names if name}

    def references(self) -> dict[str, str]:
        """Query or body fields that name this owner's things, as routes take them."""
        return {
            "owner": self.owner,
            "owner_id": self.owner,
            "camera": self.camera,
            "camera_id": self.camera,
            "site": self.site,
            "site_id": self.site,
            "incident_id": self.incidents[0],
        }


SUNRISE = Side(
    owner="sunrise",
    owner_name="Sunrise Mall",
    kind="private",
    site="sunrise-atrium",
    site_name="Atrium Sunrise",
    camera="sunrise-lobi",
    camera_name="Lobi Sunrise",
    user="sunrise-it",
)
PLAZA = Side(
    owner="plaza",
    owner_name="Plaza Majapahit",
    kind="private",
    site="plaza-parkir",
    site_name="Parkir Plaza",
    camera="plaza-lobi",
    camera_name="Lobi Plaza",
    user="plaza-it",
)
DLH = Side(
    owner="dlh-kota",
    owner_name="Dinas Lingkungan Hidup",
    kind="opd",
    site="tpa-randegan",
    site_name="TPA Randegan",
    camera="tpa-gerbang",
    camera_name="Gerbang TPA",
    user="dlh-it",
)


def city(tmp_path: Path, port: int) -> Config:
    """The configuration: three owners with a site and a camera each, and two rules."""
    sides = (SUNRISE, PLAZA, DLH)
    return Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"keyframe_interval": 1, "ring": "memory", "pre_roll": 2},
                "web": {"host": "127.0.0.1", "port": port},
            },
            "owners": [{"id": s.owner, "name": s.owner_name, "kind": s.kind} for s in sides],
            "sites": [
                {"id": s.site, "name": s.site_name, "owner": s.owner, "lat": -7.47, "lon": 112.43}
                for s in sides
            ],
            "cameras": [
                {
                    "id": s.camera,
                    "name": s.camera_name,
                    "owner": s.owner,
                    "site": s.site,
                    # the agency's camera is not watched: two decoding cameras are enough
                    "url": f"file://{FOOTAGE}" if s.kind == "private" else "rtsp://127.0.0.1:9/x",
                    "enabled": s.kind == "private",
                    "options": {"privacy_masks": [[[0.7, 0.0], [1.0, 0.0], [1.0, 0.3]]]},
                }
                for s in sides
            ],
            "rules": [
                {
                    "id": "gerak",
                    "name": "Gerak",
                    "events": ["motion.start"],
                    "title": "{rule_name} di {camera} ({site}, {owner})",
                },
                # not tamper: the stream engine raises that one itself, from the pictures
                {"id": "masuk", "events": ["intrusion"], "title": "Penyusup di {camera}"},
            ],
        }
    )


Maker = Callable[["World", Side], Awaitable[list[str]]]


async def _cameras(world: World, side: Side) -> list[str]:
    """The config's camera (it has pictures) and one the owner registered (it can be changed)."""
    body = {
        "id": f"{side.owner}-kasir",
        "name": "Kamera Kasir",
        "site_id": side.site,
        "url": "rtsp://127.0.0.1:9/kasir",
        "enabled": False,
    }
    return [side.camera, await world.make("POST", "/api/cameras", body, user=side.user)]


async def _sites(world: World, side: Side) -> list[str]:
    """The config's site, and an empty one the owner registered (it can be changed, removed)."""
    body = {"id": f"{side.owner}-foodcourt", "name": "Foodcourt", "lat": -7.47, "lon": 112.43}
    return [side.site, await world.make("POST", "/api/sites", body, user=side.user)]


async def _incidents(world: World, side: Side) -> list[str]:
    return side.incidents


# These act as the owner's own user where a sharing agreement would refuse the command center
# (a private owner shares nothing until it signs).


async def _agreement(world: World, side: Side) -> list[str]:
    body = {
        "owner": side.owner,
        "camera": side.camera,
        "level": "snapshots",
        "purpose": "security",
        "ends_at": None,
        "signed_by": "Manajer Gedung",
    }
    return [await world.make("POST", "/api/sharing", body, user=side.user)]


async def _clip(world: World, side: Side) -> list[str]:
    body = {"pre": 1, "post": 0, "purpose": "pemeriksaan"}
    path = f"/api/cameras/{side.camera}/clips"
    made = await world.make("POST", path, body, user=side.user)
    async with asyncio.timeout(30):  # cut before the dump: a clip still cutting changes
        while True:
            status, answer = await world.call("GET", f"/api/clips/{made}", user=side.user)
            if status != 200 or "cutting" not in json.dumps(answer):
                return [made]
            await asyncio.sleep(0.2)


async def _lift(world: World, side: Side) -> list[str]:
    body = {"reason": "pemeriksaan", "minutes": 5}
    # as the operator: the admin token names nobody, and a lift needs named people
    path = f"/api/cameras/{side.camera}/mask-lifts"
    return [await world.make("POST", path, body, user=OPERATOR)]


PARAMETERS: dict[str, Maker] = {
    "camera_id": _cameras,
    "site_id": _sites,
    "incident_id": _incidents,
    "agreement_id": _agreement,
    "clip_id": _clip,
    "lift_id": _lift,
}
"""How to make an owner's values of each path parameter an owner's user may be given.

Give every kind a route treats apart: a camera from the config (with pictures) and one made
through the API (which the API may change), since a route may refuse the one for another reason.

Left out on purpose: an invite's `token` (a secret, not an id: only public routes take it,
and they answer whoever holds it the same), and parameters of routes no owner may call
(`invite_id`, a plugin's file `name`): the gate refuses those before the path is read.
"""

BODIES: dict[tuple[str, str], Callable[[Side], dict[str, Any] | str]] = {
    ("POST", "/api/ingest/events"): lambda side: {
        "id": "jalan-1",
        "type": "motion.start",
        "camera": side.camera,
        "data": {"zone": "lobby"},
    },
    ("POST", "/api/sites"): lambda side: {
        "id": "situs-baru",
        "name": "Situs Baru",
        "owner_id": side.owner,
        "lat": -7.47,
        "lon": 112.43,
    },
    ("POST", "/api/cameras"): lambda side: {
        "id": "kamera-baru",
        "name": "Kamera Baru",
        "owner_id": side.owner,
        "site_id": side.site,
        "url": "rtsp://127.0.0.1:9/baru",
    },
    ("PATCH", "/api/cameras/{camera_id}"): lambda side: {"name": "Diambil Alih", "enabled": False},
    ("POST", "/api/sharing"): lambda side: {
        "owner": side.owner,
        "camera": side.camera,
        "level": "live",
        "purpose": "security",
        "ends_at": None,
        "signed_by": "Orang Lain",
    },
    ("POST", "/api/sharing/{agreement_id}/revoke"): lambda side: {"reason": "diambil alih"},
    ("POST", "/api/cameras/import"): lambda side: (
        f"id,name,owner,site,url\nkamera-impor,Kamera Impor,{side.owner},{side.site},"
        "rtsp://127.0.0.1:9/impor\n"
    ),
    ("POST", "/api/cameras/{camera_id}/clips"): lambda side: {"pre": 1, "post": 1},
}
"""Whole bodies for routes that check their body before what it names (the side is B's).

A dict is sent as JSON, a string as CSV (`text/csv`).
"""


@dataclass
class World:
    """The running hub of the city, and the ways to call it."""

    hub: Hub
    app: web.Application
    base: str
    admin_token: str
    accounts: Accounts
    a: Side
    b: Side
    opd: Side
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    _callers: dict[str, aiohttp.ClientSession] = field(default_factory=dict)

    async def client(self) -> aiohttp.ClientSession:
        """A client that keeps cookies, closed with the world."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(session)
        return session

    async def signed_in(self, user: str) -> aiohttp.ClientSession:
        """A client signed in as `user`."""
        http = await self.client()
        body = {"name": user, "password": PASSWORD}
        async with http.post(self.base + "/api/login", json=body) as answer:
            assert answer.status == 200, await answer.text()
        return http

    async def call(
        self, method: str, path: str, body: Any = None, *, user: str | None = None
    ) -> tuple[int, Any]:
        """Call the hub as `user` (signed in), else with the admin token; status and answer."""
        key = user or ""
        if key not in self._callers:
            self._callers[key] = await (self.signed_in(user) if user else self.client())
        headers = {} if user else {"Authorization": f"Bearer {self.admin_token}"}
        request = self._callers[key].request(method, self.base + path, json=body, headers=headers)
        async with request as answer:
            text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text

    async def make(
        self, method: str, path: str, body: dict[str, Any], *, user: str | None = None
    ) -> str:
        """Make something through the API (as `user`, else the admin); its id."""
        status, answer = await self.call(method, path, body, user=user)
        made = _id_in(answer) if 200 <= status < 300 else None
        assert made is not None, (
            f"could not make an owner's thing for the cross-owner walk: {method} {path} answered "
            f"{status} {str(answer)[:300]}; make its maker in tests/web/owner_world.py match it"
        )
        return made

    async def values(self, parameter: str, side: Side) -> list[str] | None:
        """`side`'s values of a path parameter, made on first use; None if no maker knows it."""
        if parameter not in side.made:
            maker = PARAMETERS.get(parameter)
            if maker is None:
                return None
            side.made[parameter] = await maker(self, side)
        return side.made[parameter]

    async def make_all(self, side: Side, parameters: set[str]) -> None:
        """Make `side`'s value of every parameter a maker knows, at once (a clip takes a while)."""
        known = sorted(parameters & set(PARAMETERS))
        await asyncio.gather(*(self.values(name, side) for name in known))

    async def settled(self) -> None:
        """Wait until everything the bus carried so far is in the audit log."""
        if self.hub.audit_recorder is not None:
            await self.hub.audit_recorder.idle()

    async def dump(self, side: Side) -> dict[str, dict[str, dict[str, str]]]:
        """Every row of every table that names one of `side`'s things: table -> key -> row."""
        marks = side.marks
        found: dict[str, dict[str, dict[str, str]]] = {}
        async with self.hub.db.session() as session:
            for table in Base.metadata.sorted_tables:
                rows = (await session.execute(select(table))).mappings().all()
                keys = [column.name for column in table.primary_key.columns]
                for row in rows:
                    values = {name: json.dumps(value, default=str) for name, value in row.items()}
                    text = " ".join(values.values()).lower()
                    if any(mark in text for mark in marks):
                        key = "/".join(str(row[name]) for name in keys)
                        # digests: a failure names tables, keys and columns, never a hash
                        found.setdefault(table.name, {})[key] = {
                            name: hashlib.sha256(value.encode()).hexdigest()
                            for name, value in values.items()
                        }
        return found


def _id_in(answer: Any) -> str | None:
    """The `id` of what an API answer describes: at its top or in its one object."""
    if not isinstance(answer, dict):
        return None
    if isinstance(answer.get("id"), str | int):
        return str(answer["id"])
    inner = [value for value in answer.values() if isinstance(value, dict)]
    return _id_in(inner[0]) if len(inner) == 1 else None


def differences(
    before: dict[str, dict[str, dict[str, str]]], after: dict[str, dict[str, dict[str, str]]]
) -> list[str]:
    """What changed between two dumps: rows added, removed or changed (column names only)."""
    found = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        for key in sorted(set(old) | set(new)):
            if key not in old:
                found.append(f"{table}: a row was added (key {key})")
            elif key not in new:
                found.append(f"{table}: row {key} was removed")
            elif old[key] != new[key]:
                changed = sorted(name for name in old[key] if old[key][name] != new[key].get(name))
                found.append(f"{table}: row {key} changed in {', '.join(changed)}")
    return found


async def _raise(hub: Hub, side: Side, event: Event) -> str:
    seen: asyncio.Queue[Event] = asyncio.Queue()
    subscription = hub.bus.subscribe(
        "incident.triggered",
        seen.put,
        name=f"test:{side.owner}",
        filter=lambda opened: opened.camera_id == side.camera,
    )
    try:
        await hub.bus.publish(event)
        async with asyncio.timeout(10):
            opened = await seen.get()
    finally:
        await subscription.cancel()
    return str(opened.data["incident_id"])


async def _snapshot_ready(world: World, camera: str) -> None:
    """Wait for the camera's first picture in the keyframe cache."""
    async with asyncio.timeout(30):
        while True:
            if world.hub.streams is not None and world.hub.streams.snapshot(camera) is not None:
                return
            await asyncio.sleep(0.2)


async def _live(world: World, side: Side) -> None:
    """Give `side` a user, incidents, and audit records of views, an ack and an export."""
    user = await world.accounts.users.add(side.user, Role.OWNER, PASSWORD, owner=side.owner)
    side.user_id = user.id
    camera = side.camera
    side.incidents = [
        await _raise(world.hub, side, Event(type="motion.start", camera_id=camera)),
        await _raise(world.hub, side, Event(type="intrusion", camera_id=camera)),
    ]
    if side.kind != "private":
        return
    await _snapshot_ready(world, camera)
    http = await world.signed_in(side.user)
    async with http.get(f"{world.base}/api/cameras/{camera}/snapshot") as answer:
        assert answer.status == 200, await answer.text()
    async with http.get(f"{world.base}/api/audit.csv") as answer:
        assert answer.status == 200 and await answer.text()


async def _acknowledge(world: World, sides: tuple[Side, ...]) -> None:
    """The operator takes on the first incident of each side (`incident.ack` records)."""
    operator = await world.signed_in(OPERATOR)
    for side in sides:
        ack = f"{world.base}/api/incidents/{side.incidents[0]}/ack"
        async with operator.post(ack, json={}) as answer:
            assert answer.status == 200, await answer.text()


@contextlib.asynccontextmanager
async def running_world(tmp_path: Path) -> AsyncIterator[World]:
    """Start the city's hub on a real port and fill it; stopped after."""
    port = free_port()
    hub = Hub(city(tmp_path, port))
    app = build_app(hub)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    world: World | None = None
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
        a, b, opd = (replace(side, made={}, incidents=[]) for side in (SUNRISE, PLAZA, DLH))
        accounts = Accounts(hub.db)
        world = World(hub, app, f"http://127.0.0.1:{port}", token, accounts, a, b, opd)
        await accounts.users.add(OPERATOR, Role.OPERATOR, PASSWORD)
        for side in (a, b, opd):
            await _live(world, side)
        # B's things for the routes the app has now, while the operator acknowledges: a clip
        # takes a few seconds to cut
        wanted = {
            name
            for route in app.router.routes()
            if route.resource is not None
            for name in PARAMETER.findall(route.resource.canonical)
        }
        await asyncio.gather(world.make_all(b, wanted), _acknowledge(world, (a, b, opd)))
        await world.settled()
        yield world
    finally:
        if world is not None:
            for session in world.sessions:
                await session.close()
        await runner.cleanup()
