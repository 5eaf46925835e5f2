"""Owner onboarding through a running hub: invited, signed in, sites and cameras registered."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from hub.access import Role
from hub.audit import Action
from hub.store.models import InviteRow, utcnow
from tests.plugins.hikvision.device import PASSWORD as DEVICE_PASSWORD
from tests.plugins.hikvision.device import (
    USERNAME,
    FakeDevice,
    camera_answers,
    nvr_answers,
    serve,
)
from tests.test_running import free_port
from tests.web.conftest import PASSWORD, Site

NEW_PASSWORD = "Plaza-Lantai-Dua-2026"
CAMERA_SECRET = "kunci-kamera-lobi-77"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **options: Any
) -> tuple[int, Any, str]:
    """The status, the JSON (None when the body is not JSON) and the raw text of an answer."""
    async with http.request(method, url, **options) as answer:
        text = await answer.text()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    return answer.status, body, text


def admin(site: Site) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.admin_token}"}


async def invite(site: Site, http: aiohttp.ClientSession, **body: Any) -> dict[str, Any]:
    status, answer, text = await call(
        http, "POST", site.url("/api/invites"), json=body, headers=admin(site)
    )
    assert status == 201, text
    return dict(answer)


def token_of(made: dict[str, Any]) -> str:
    return str(made["url"]).rsplit("/invite/", 1)[1]


async def test_an_owner_is_invited_signs_in_and_registers_its_sites_and_cameras(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    http = await site.client()
    made = await invite(
        site,
        http,
        owner={"id": "plaza", "name": "Plaza Mojokerto", "kind": "private"},
        name="Plaza-IT",
        email="it@plaza.example",
        days=3,
    )
    assert made["name"] == "plaza-it" and made["owner_id"] == "plaza"
    assert made["url"].startswith(site.base + "/invite/")
    token = token_of(made)
    assert len(token) >= 43  # 256 random bits, URL-safe

    # only the token's digest is kept, and no list shows the token
    async with site.hub.db.session() as session:
        row = (await session.scalars(select(InviteRow))).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps([str(v) for v in vars(row).values()])
    status, listed, text = await call(http, "GET", site.url("/api/invites"), headers=admin(site))
    assert status == 200 and listed["invites"][0]["state"] == "open"
    assert token not in text

    # the link, opened by anyone: whose invitation it is
    status, shown, _ = await call(http, "GET", site.url(f"/api/invites/{token}"))
    assert status == 200
    assert shown == {
        "owner_name": "Plaza Mojokerto",
        "name": "plaza-it",
        "expires_at": made["expires_at"],
    }

    # a password the hub will not take leaves the invitation open
    owner_http = await site.client()
    accept = site.url(f"/api/invites/{token}/accept")
    status, refused, _ = await call(owner_http, "POST", accept, json={"password": "pendek"})
    assert status == 400 and "at least 12 characters" in refused["error"]
    status, accepted, text = await call(owner_http, "POST", accept, json={"password": NEW_PASSWORD})
    assert status == 201, text
    assert accepted["user"]["role"] == "owner" and accepted["user"]["owner"] == "plaza"
    status, me, _ = await call(owner_http, "GET", site.url("/api/me"))
    assert status == 200 and (me["name"], me["owner"]) == ("plaza-it", "plaza")
    status, again, _ = await call(http, "POST", accept, json={"password": NEW_PASSWORD})
    assert status == 410 and "already used" in again["error"]

    # and the password works for a later sign-in
    later = await site.client()
    login = {"name": "plaza-it", "password": NEW_PASSWORD}
    status, _, _ = await call(later, "POST", site.url("/api/login"), json=login)
    assert status == 200

    # a site, then a camera at it; the owner is the user's whatever it says
    status, place, text = await call(
        owner_http,
        "POST",
        site.url("/api/sites"),
        json={
            "name": "Plaza Lobi Utara",
            "address": "Jl. Majapahit 1",
            "lat": -7.47,
            "lon": 112.43,
        },
    )
    assert status == 201, text
    assert (place["id"], place["owner_id"]) == ("plaza-lobi-utara", "plaza")
    status, camera, text = await call(
        owner_http,
        "POST",
        site.url("/api/cameras"),
        json={
            "name": "Lobi Utara 1",
            "site_id": "plaza-lobi-utara",
            "url": f"rtsp://viewer:{CAMERA_SECRET}@10.20.0.5:554/Streaming/Channels/102",
            "tags": ["lobi"],
        },
    )
    assert status == 201, text
    assert (camera["id"], camera["owner"], camera["site"]) == (
        "lobi-utara-1",
        "plaza",
        "plaza-lobi-utara",
    )
    assert camera["has_password"] is True and camera["username"] == "viewer"
    assert CAMERA_SECRET not in text
    assert await site.hub.registry.camera_password("lobi-utara-1") == CAMERA_SECRET

    # a CSV inventory: the good rows go in, each bad one is told by line and column
    inventory = (
        "id,name,site,url,lat,lon\n"
        "lobi-utara-2,Lobi Utara 2,plaza-lobi-utara,rtsp://10.20.0.6/s,-7.47,112.43\n"
        "parkir-1,Parkir 1,plaza-lobi-utara,rtsp://10.20.0.7/s,-97.5,112.43\n"
        "lobi-utara-3,Lobi Utara 3,plaza-lobi-utara,rtsp://10.20.0.8/s,-7.47,112.43\n"
    )
    status, report, text = await call(
        owner_http,
        "POST",
        site.url("/api/cameras/import"),
        data=inventory.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert status == 200, text
    assert report["added"] == ["lobi-utara-2", "lobi-utara-3"]
    assert report["errors"] == [
        {
            "line": 3,
            "camera_id": "parkir-1",
            "field": "lat",
            "message": "lat must be between -90 and 90, got -97.5",
        }
    ]

    # what the owner lists is its own, and nothing else
    status, cameras, _ = await call(owner_http, "GET", site.url("/api/cameras"))
    assert {c["id"] for c in cameras["cameras"]} == {"lobi-utara-1", "lobi-utara-2", "lobi-utara-3"}
    status, sites, _ = await call(owner_http, "GET", site.url("/api/sites"))
    assert [s["id"] for s in sites["sites"]] == ["plaza-lobi-utara"]
    status, all_cameras, _ = await call(http, "GET", site.url("/api/cameras"), headers=admin(site))
    assert {"tpa-gerbang", "mall-lobi", "lobi-utara-1"} <= {c["id"] for c in all_cameras["cameras"]}

    # the audit log names who did it: the admin's invitation, the new user, the user's camera
    assert site.hub.audit_recorder is not None
    await site.hub.audit_recorder.idle()
    records = await site.hub.audit.records(owner="plaza", limit=50)
    changes = [(r.action, r.details.get("change"), r.actor_name) for r in records]
    assert (Action.USER_CHANGE.value, "invite", "admin") in changes
    assert (Action.USER_CHANGE.value, "add", "plaza-it") in changes
    added = [r for r in records if r.action == Action.CAMERA_ADD.value]
    assert {r.camera_id for r in added} == {"lobi-utara-1", "lobi-utara-2", "lobi-utara-3"}
    assert {r.actor_name for r in added} == {"plaza-it"}
    assert all(r.actor_kind == "user" for r in added)

    for secret in (NEW_PASSWORD, CAMERA_SECRET, token, PASSWORD):
        assert secret not in caplog.text


async def test_used_revoked_expired_and_unknown_invitations_are_refused(site: Site) -> None:
    http = await site.client()
    revoked = await invite(site, http, owner_id="sunrise", name="sunrise-2")
    status, answer, _ = await call(
        http, "POST", site.url(f"/api/invites/{revoked['id']}/revoke"), headers=admin(site)
    )
    assert status == 200 and answer["state"] == "revoked"
    token = token_of(revoked)
    status, answer, _ = await call(http, "GET", site.url(f"/api/invites/{token}"))
    assert status == 410 and "withdrawn" in answer["error"]
    accept = site.url(f"/api/invites/{token}/accept")
    status, answer, _ = await call(http, "POST", accept, json={"password": NEW_PASSWORD})
    assert status == 410 and await site.accounts.users.get("sunrise-2") is None

    long_ago = utcnow() - timedelta(days=10)
    _, old = await site.accounts.invites.create(
        "sunrise", "sunrise-3", created_by="test", days=7, now=long_ago
    )
    status, answer, _ = await call(http, "GET", site.url(f"/api/invites/{old}"))
    assert status == 410 and "expired" in answer["error"]
    status, _, _ = await call(
        http, "POST", site.url(f"/api/invites/{old}/accept"), json={"password": NEW_PASSWORD}
    )
    assert status == 410 and await site.accounts.users.get("sunrise-3") is None

    # two people opening the same link at once: one user is made, the other is told
    raced = token_of(await invite(site, http, owner_id="sunrise", name="sunrise-4"))
    accept = site.url(f"/api/invites/{raced}/accept")
    clients = [await site.client(), await site.client()]
    results = await asyncio.gather(
        *(call(c, "POST", accept, json={"password": NEW_PASSWORD}) for c in clients)
    )
    assert sorted(status for status, _, _ in results) == [201, 410]
    assert [u.name for u in await site.accounts.users.list()].count("sunrise-4") == 1

    # a user name that exists, an owner that does not
    status, answer, _ = await call(
        http,
        "POST",
        site.url("/api/invites"),
        json={"owner_id": "sunrise", "name": "mall-it"},
        headers=admin(site),
    )
    assert status == 409 and "already a user 'mall-it'" in answer["error"]
    status, answer, _ = await call(
        http,
        "POST",
        site.url("/api/invites"),
        json={"owner_id": "nowhere", "name": "someone"},
        headers=admin(site),
    )
    assert status == 404 and "no owner 'nowhere'" in answer["error"]

    # guessing links is slowed down, as signing in is
    statuses = [
        (await call(http, "GET", site.url(f"/api/invites/guess-{n}")))[0] for n in range(21)
    ]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429


async def test_an_owner_cannot_touch_another_owners_sites_and_cameras(site: Site) -> None:
    root = await site.client(**admin(site))
    status, _, text = await call(
        root,
        "POST",
        site.url("/api/sites"),
        json={
            "id": "dlh-kantor",
            "name": "Kantor DLH",
            "lat": -7.46,
            "lon": 112.44,
            "owner_id": "dlh",
        },
    )
    assert status == 201, text
    status, _, text = await call(
        root,
        "POST",
        site.url("/api/cameras"),
        json={
            "id": "dlh-pintu",
            "name": "Pintu DLH",
            "owner_id": "dlh",
            "site_id": "dlh-kantor",
            "host": "10.1.0.9",
            "vendor": "hikvision",
            "username": "admin",
            "password": CAMERA_SECRET,
        },
    )
    assert status == 201, text
    before = (
        await site.hub.registry.get_camera("dlh-pintu"),
        await site.hub.registry.get_site("dlh-kantor"),
    )

    mall = await site.signed_in(Role.OWNER)  # mall-it, of sunrise
    for method, path, body in [
        ("PATCH", "/api/sites/dlh-kantor", {"name": "Milik Kami"}),
        ("DELETE", "/api/sites/dlh-kantor", None),
        ("PATCH", "/api/cameras/dlh-pintu", {"name": "Milik Kami"}),
        ("DELETE", "/api/cameras/dlh-pintu", None),
        ("POST", "/api/cameras/dlh-pintu/probe", None),
    ]:
        status, answer, text = await call(mall, method, site.url(path), json=body)
        assert status == 404, (method, path, text)
        assert "Kantor DLH" not in text and "Pintu DLH" not in text
    status, answer, _ = await call(
        mall,
        "POST",
        site.url("/api/cameras"),
        json={"name": "Kamera", "owner_id": "dlh", "url": "rtsp://10.0.0.1/s"},
    )
    assert status == 403
    status, answer, _ = await call(
        mall,
        "POST",
        site.url("/api/cameras"),
        json={"name": "Kamera", "site_id": "dlh-kantor", "url": "rtsp://10.0.0.1/s"},
    )
    assert status == 400 and answer["error"] == "site: no site 'dlh-kantor' of sunrise"
    inventory = (
        "id,name,owner,url\n"
        "dlh-pintu,Milik Kami,sunrise,rtsp://10.0.0.1/s\n"
        "dlh-baru,Baru,dlh,rtsp://10.0.0.2/s\n"
    )
    status, report, _ = await call(
        mall,
        "POST",
        site.url("/api/cameras/import"),
        data=inventory,
        headers={"Content-Type": "text/csv"},
    )
    assert status == 200 and report["added"] == [] and report["updated"] == []
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(2, "id"), (3, "owner")]
    status, sites, text = await call(mall, "GET", site.url("/api/sites"))
    assert status == 200 and "dlh-kantor" not in text
    after = (
        await site.hub.registry.get_camera("dlh-pintu"),
        await site.hub.registry.get_site("dlh-kantor"),
    )
    assert after == before and await site.hub.registry.get_camera("dlh-baru") is None

    # the command center's own rules: a site with cameras stays until they go
    status, answer, _ = await call(root, "DELETE", site.url("/api/sites/dlh-kantor"))
    assert status == 409 and "still has 1 camera" in answer["error"]
    status, _, _ = await call(root, "DELETE", site.url("/api/cameras/dlh-pintu"))
    assert status == 200
    status, _, _ = await call(root, "DELETE", site.url("/api/sites/dlh-kantor"))
    assert status == 200


async def test_cameras_of_the_config_are_changed_in_the_config_only(site: Site) -> None:
    root = await site.client(**admin(site))
    for method, body in (("PATCH", {"name": "Baru"}), ("DELETE", None)):
        status, answer, _ = await call(
            root, method, site.url("/api/cameras/tpa-gerbang"), json=body
        )
        assert status == 409, answer
        assert answer["error"] == "camera 'tpa-gerbang' is declared in the config; change it there"
    mall = await site.signed_in(Role.OWNER)
    status, answer, _ = await call(
        mall, "PATCH", site.url("/api/cameras/mall-lobi"), json={"name": "Baru"}
    )
    assert status == 409 and "declared in the config" in answer["error"]
    assert (await site.hub.registry.get_camera("mall-lobi")).name == "Lobi Sunrise Mall"  # type: ignore[union-attr]


async def test_an_nvr_s_channels_are_listed_and_added_as_cameras(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mall = await site.signed_in(Role.OWNER)
    url = site.url("/api/devices/channels")
    async with serve(nvr_answers(FakeDevice())) as nvr:
        device = {
            "vendor": "hikvision",
            "host": "127.0.0.1",
            "port": nvr.port,
            "username": USERNAME,
            "password": DEVICE_PASSWORD,
        }
        status, found, text = await call(mall, "POST", url, json=device)
        assert status == 200, text
        assert found["device"]["model"] == "DS-7616NI-K2"
        assert len(found["channels"]) == 16
        assert found["channels"][6] == {"number": 7, "name": "Pos 07", "online": True}
        assert DEVICE_PASSWORD not in text

        wrong = {**device, "password": "bukan-sandinya-99"}
        status, answer, text = await call(mall, "POST", url, json=wrong)
        assert status == 422 and "AuthenticationFailed" in answer["error"]
        assert "bukan-sandinya-99" not in text

        channel = found["channels"][6]
        status, camera, text = await call(
            mall,
            "POST",
            site.url("/api/cameras"),
            json={
                "name": channel["name"],
                "vendor": "hikvision",
                "host": "127.0.0.1",
                "port": nvr.port,
                "username": USERNAME,
                "password": DEVICE_PASSWORD,
                "options": {"channel": channel["number"]},
            },
        )
        assert status == 201, text
        assert (camera["id"], camera["options"], camera["owner"]) == (
            "pos-07",
            {"channel": 7},
            "sunrise",
        )
    status, answer, _ = await call(mall, "POST", url, json={**device, "port": free_port()})
    assert status == 502 and "DeviceUnreachable" in answer["error"]
    assert DEVICE_PASSWORD not in caplog.text


async def test_a_camera_is_probed_before_and_after_it_is_added(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mall = await site.signed_in(Role.OWNER)
    async with serve(camera_answers(FakeDevice())) as device:
        camera = {
            "vendor": "hikvision",
            "host": "127.0.0.1",
            "port": device.port,
            "username": USERNAME,
            "password": DEVICE_PASSWORD,
            "options": {"rtsp_port": free_port()},  # nothing streams there: that step fails
        }
        status, before, text = await call(mall, "POST", site.url("/api/probe"), json=camera)
        assert status == 200, text
        steps = {step["name"]: step for step in before["steps"]}
        assert steps["device"]["ok"] and steps["snapshot"]["ok"]
        assert steps["snapshot"]["detail"].startswith("JPEG 64x48")
        assert steps["stream"]["ok"] is False and before["ok"] is False
        assert DEVICE_PASSWORD not in text

        status, added, text = await call(
            mall, "POST", site.url("/api/cameras"), json={"name": "Gerbang Timur", **camera}
        )
        assert status == 201, text
        status, after, text = await call(mall, "POST", site.url("/api/cameras/gerbang-timur/probe"))
        assert status == 200, text
        assert after["camera_id"] == "gerbang-timur"
        assert [s["name"] for s in after["steps"]] == [s["name"] for s in before["steps"]]
        assert {s["name"]: s["ok"] for s in after["steps"]}["snapshot"] is True
        assert DEVICE_PASSWORD not in text
    assert DEVICE_PASSWORD not in caplog.text
