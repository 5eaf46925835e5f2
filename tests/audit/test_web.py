"""The audit API (`/api/audit`, `/api/audit.csv`), `record_view`, and the records the sites API
leaves, on a running hub."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.access import Accounts, Role
from hub.audit import Action, ActorKind
from hub.config import Config
from hub.runtime import Hub
from hub.web import build_app
from hub.web.audit import PURPOSE_HEADER, add_audit_routes, record_view
from hub.web.auth import TOKEN_FILE, Access, needs
from hub.web.keys import hub_key
from tests.test_running import free_port
from tests.web.conftest import PASSWORD


@needs(Access.CAMERAS_READ)
async def live(request: web.Request) -> web.Response:
    """A live view as the lead will wire it: the record first, then the picture."""
    camera = await request.app[hub_key].registry.get_camera(request.match_info["camera_id"])
    assert camera is not None
    record = await record_view(request, Action.LIVE_VIEW, camera)
    return web.json_response({"seq": record.seq})


class Site:
    def __init__(self, hub: Hub, base: str, token: str, http: aiohttp.ClientSession) -> None:
        self.hub, self.base, self.http = hub, base, http
        self.admin = {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    port = free_port()
    config = Config.model_validate(
        {
            "hub": {
                "data_dir": str(tmp_path / "var"),
                "streams": {"enabled": False},
                "web": {"host": "127.0.0.1", "port": port},
            },
            "owners": [
                {"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"},
                {"id": "sunrise", "name": "Sunrise Mall", "kind": "private"},
            ],
            "cameras": [
                {"id": "tpa", "name": "TPA", "owner": "dlh", "url": "rtsp://127.0.0.1:9/a"},
                {"id": "lobi", "name": "Lobi", "owner": "sunrise", "url": "rtsp://127.0.0.1:9/b"},
            ],
        }
    )
    hub = Hub(config)
    app = build_app(hub)
    add_audit_routes(app)
    app.router.add_get("/test/live/{camera_id}", live)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
    try:
        async with aiohttp.ClientSession() as http:
            yield Site(hub, f"http://127.0.0.1:{port}", token, http)
    finally:
        await runner.cleanup()


async def test_a_live_view_is_recorded_with_its_purpose(site: Site) -> None:
    async with site.http.get(site.base + "/test/live/lobi", headers=site.admin) as answer:
        assert answer.status == 400
        assert "state the purpose" in (await answer.json())["error"]
    purpose = {PURPOSE_HEADER: "Laporan kehilangan, tiket 119-88", **site.admin}
    async with site.http.get(site.base + "/test/live/lobi", headers=purpose) as answer:
        assert answer.status == 200
    async with site.http.get(site.base + "/test/live/tpa", headers=site.admin) as answer:
        assert answer.status == 200  # a government camera: no purpose asked
    query = {"action": "live.view"}
    async with site.http.get(site.base + "/api/audit", params=query, headers=site.admin) as answer:
        assert answer.status == 200
        records = (await answer.json())["records"]
    assert [(r["camera"], r["owner"], r["purpose"]) for r in records] == [
        ("tpa", "dlh", None),
        ("lobi", "sunrise", "Laporan kehilangan, tiket 119-88"),
    ]
    assert records[1]["actor"] == "admin-token" and records[1]["source"] == "127.0.0.1"


async def test_the_api_filters_and_exports_as_csv(site: Site) -> None:
    assert site.hub.audit_recorder is not None
    await site.hub.audit_recorder.idle()  # the config's cameras, recorded from the bus
    async with site.http.get(site.base + "/api/audit") as answer:
        assert answer.status == 401
    async with site.http.get(
        site.base + "/api/audit", params={"owner": "sunrise"}, headers=site.admin
    ) as answer:
        records = (await answer.json())["records"]
    assert [(r["action"], r["camera"]) for r in records] == [("camera.add", "lobi")]
    for params, problem in (
        ({"action": "camera.peek"}, "unknown action"),
        ({"since": "kemarin"}, "since must be a date"),
        ({"limit": "many"}, "limit must be a whole number"),
    ):
        async with site.http.get(site.base + "/api/audit", params=params, headers=site.admin) as a:
            assert a.status == 400 and problem in (await a.json())["error"]
    params = {"owner": "sunrise", "since": "2020-01-01"}
    async with site.http.get(site.base + "/api/audit.csv", params=params, headers=site.admin) as a:
        assert a.status == 200
        assert a.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert a.headers["Content-Disposition"].startswith('attachment; filename="pantau-audit-')
        body = await a.read()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert [r["action"] for r in rows] == ["camera.add", "audit.export"]
    assert rows[1]["actor"] == "admin-token" and rows[1]["owner"] == "sunrise"
    assert body.count(b"\r\n") == 3


async def test_site_changes_through_the_api_are_recorded_with_who_and_whose(site: Site) -> None:
    accounts = Accounts(site.hub.db)
    mall = await accounts.users.add("mall-it", Role.OWNER, PASSWORD, owner="sunrise")
    ana = await accounts.users.add("ana", Role.ADMIN, PASSWORD)
    clients = {}
    for name in ("mall-it", "ana"):
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        clients[name] = http
        body = {"name": name, "password": PASSWORD}
        async with http.post(site.base + "/api/login", json=body) as answer:
            assert answer.status == 200, await answer.text()
    try:
        new = {"name": "Sunrise Utara", "address": "Jl. Pemuda 1", "lat": -6.98, "lon": 110.41}
        async with clients["mall-it"].post(site.base + "/api/sites", json=new) as answer:
            assert answer.status == 201, await answer.text()
            site_id = (await answer.json())["id"]
        path = f"{site.base}/api/sites/{site_id}"
        async with clients["ana"].patch(path, json={"name": "Sunrise Utara Baru"}) as answer:
            assert answer.status == 200, await answer.text()
        async with clients["mall-it"].delete(path) as answer:
            assert answer.status == 200, await answer.text()
    finally:
        for http in clients.values():
            await http.close()
    assert site.hub.audit_recorder is not None
    await site.hub.audit_recorder.idle()
    site_actions = (Action.SITE_ADD, Action.SITE_UPDATE, Action.SITE_REMOVE)
    records = [r for r in reversed(await site.hub.audit.records()) if r.action in site_actions]
    assert [(r.action, r.actor, r.actor_kind, r.actor_name, r.owner_id) for r in records] == [
        ("site.add", mall.id, ActorKind.USER, "mall-it", "sunrise"),
        ("site.update", ana.id, ActorKind.USER, "ana", "sunrise"),
        ("site.remove", mall.id, ActorKind.USER, "mall-it", "sunrise"),
    ]
    added, updated, removed = records
    assert added.details == {"site": site_id, "name": "Sunrise Utara", "source": "api"}
    assert updated.details["changed"] == ["name"]
    assert removed.details["name"] == "Sunrise Utara Baru"
    assert all(r.camera_id is None for r in records)
    assert "Jl. Pemuda" not in repr([r.as_dict() for r in records])  # where it is stays out
    assert (await site.hub.audit.verify()).intact
