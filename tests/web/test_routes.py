"""Every route, core and plugin, against every kind of caller: who is let through, who is not.

Unauthenticated callers (none, or credentials that do not hold) get 401; authenticated callers
whose role or token does not allow what the route needs get 403; the others get past the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.access import OPEN, ROLE_ACCESS, SCOPES, Access, Role
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import ACCESS_ATTRIBUTE, PLUGIN_DEFAULT
from tests.test_running import free_port
from tests.web.conftest import Site

SAMPLE = {
    "incident_id": "0" * 32,
    "camera_id": "tpa-gerbang",
    "name": "x",
    "clip_id": "0" * 32,
    "agreement_id": "0" * 32,
    "site_id": "x",
    "invite_id": "0" * 32,
    "token": "x",
    "asset": "pantau.css",
    "lift_id": "0" * 32,
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    access: Access

    def url(self, base: str) -> str:
        path = self.path
        for key, value in SAMPLE.items():
            path = path.replace("{" + key + "}", value)
        return base + path


def routes(app: web.Application) -> list[Route]:
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp's twin of each GET, with the same handler
            continue
        access = getattr(route.handler, ACCESS_ATTRIBUTE, None)
        where = f"{route.method} {route.resource.canonical if route.resource else '?'}"
        assert isinstance(access, Access), f"{where} declares no access"
        assert route.resource is not None
        found.append(Route(route.method, route.resource.canonical, access))
    return found


async def call(http: aiohttp.ClientSession, route: Route, base: str, **headers: str) -> int:
    async with http.request(route.method, route.url(base), json={}, headers=headers) as answer:
        if answer.status == 401:
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        if route.path.startswith("/api/") and answer.content_type == "application/json":
            # API answers hold owner data: neither a browser nor a proxy may keep one
            assert answer.headers.get("Cache-Control") == "no-store", (route, answer.status)
        return answer.status


def test_every_core_route_is_declared_and_only_health_and_sign_in_are_open(site: Site) -> None:
    declared = {(r.method, r.path): r.access for r in routes(site.app)}
    assert declared[("GET", "/api/health")] is Access.PUBLIC
    assert declared[("POST", "/api/login")] is Access.PUBLIC
    assert declared[("GET", "/api/cameras")] is Access.CAMERAS_READ
    assert declared[("POST", "/api/incidents/{incident_id}/ack")] is Access.INCIDENTS_ACK
    assert declared[("POST", "/ack/{incident_id}")] is Access.SIGNED_LINK
    # a plugin route that declares nothing gets the default; declared ones keep theirs
    assert declared[("GET", "/plugins/walk_probe/status")] is PLUGIN_DEFAULT
    assert declared[("POST", "/plugins/walk_probe/events")] is Access.INGEST
    assert declared[("GET", "/plugins/walk_probe/hello")] is Access.PUBLIC
    open_core = {
        key for key, access in declared.items() if access in OPEN and key[1].startswith("/api/")
    }
    assert open_core == {
        ("GET", "/api/health"),
        ("POST", "/api/login"),
        ("POST", "/api/logout"),
        ("GET", "/api/invites/{token}"),  # the invitation link: it is its own credential
        ("POST", "/api/invites/{token}/accept"),
    }


async def test_strangers_get_401_on_every_route_that_needs_a_credential(site: Site) -> None:
    guarded = [r for r in routes(site.app) if r.access not in OPEN]
    assert len(guarded) >= 9
    http = await site.client()
    expired = await site.token(Role.ADMIN, *SCOPES, lifetime=timedelta(milliseconds=1))
    made, revoked = await site.accounts.tokens.create("ana", SCOPES)
    await site.accounts.tokens.revoke(made.id)
    strangers = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer pantau_not-a-token-the-hub-made"},
        {"Authorization": "Basic YW5hOnNhbmRp"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {revoked}"},
        {"Cookie": "pantau_session=forged-or-ended"},
    ]
    for route in guarded:
        for headers in strangers:
            status = await call(http, route, site.base, **headers)
            assert status == 401, (route, headers)


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_reaches_what_it_may_and_gets_403_elsewhere(site: Site, role: Role) -> None:
    http = await site.signed_in(role)
    allowed = ROLE_ACCESS[role] | {Access.SIGNED_IN}
    for route in routes(site.app):
        if route.access in OPEN:
            continue
        status = await call(http, route, site.base)
        if route.access in allowed:
            assert status not in (401, 403), (role, route, status)
        else:
            assert status == 403, (role, route, status)


async def test_tokens_reach_only_their_scopes_and_the_admin_token_reaches_all(
    site: Site,
) -> None:
    http = await site.client()
    for route in routes(site.app):
        if route.access in OPEN:
            continue
        root = await call(http, route, site.base, Authorization=f"Bearer {site.admin_token}")
        assert root not in (401, 403), route
        if route.access is Access.SIGNED_IN:
            continue
        # an admin's token with every scope but the one the route needs
        others = sorted(SCOPES - {route.access})
        without = await site.token(Role.ADMIN, *others)
        status = await call(http, route, site.base, Authorization=f"Bearer {without}")
        assert status == 403, route
        exact = await site.token(Role.ADMIN, route.access.value)
        status = await call(http, route, site.base, Authorization=f"Bearer {exact}")
        assert status not in (401, 403), route


async def test_a_route_added_without_needs_is_refused_for_everyone(tmp_path: Path) -> None:
    port = free_port()
    config = {
        "hub": {
            "data_dir": str(tmp_path / "var"),
            "streams": {"enabled": False},
            "web": {"host": "127.0.0.1", "port": port},
        }
    }
    hub = Hub(Config.model_validate(config))
    app = build_app(hub)

    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({"secret": "everything"})

    app.router.add_get("/api/forgotten", forgotten)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (tmp_path / "var" / "admin.token").read_text(encoding="ascii").strip()
        url = f"http://127.0.0.1:{port}/api/forgotten"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                async with http.get(url, headers=headers) as answer:
                    assert answer.status == 403
                    assert "declares no access" in (await answer.json())["error"]
            async with http.get(f"http://127.0.0.1:{port}/api/nowhere") as missing:
                assert missing.status == 404
    finally:
        await runner.cleanup()


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def test_the_role_table_in_the_guide_is_the_one_the_hub_enforces() -> None:
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| scope |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    assert roles == [role.value for role in Role]
    documented: dict[Role, set[Access]] = {role: set() for role in Role}
    for line in lines:
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 2 + len(roles):
            continue
        scope = Access(cells[0].strip("`"))
        for role, mark in zip(roles, cells[2:], strict=True):
            if mark:
                documented[Role(role)].add(scope)
    assert documented == {role: set(access) for role, access in ROLE_ACCESS.items()}


def test_every_core_route_is_in_the_guide_with_what_it_needs(site: Site) -> None:
    documented: dict[tuple[str, str], str] = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 2 or not cells[1].startswith("`"):
            continue
        need = cells[1].split("`")[1]
        for written in cells[0].split("`")[1::2]:
            method, _, path = written.partition(" ")
            documented[(method, path.replace("{id}", "{incident_id}"))] = need
    for route in routes(site.app):
        if route.path.startswith("/plugins/"):
            continue
        key = (route.method, route.path.replace("{camera_id}", "{incident_id}"))
        assert documented.get(key) == route.access.value, f"{route} in docs/access.md"
