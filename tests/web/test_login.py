"""Signing in and out over real HTTP: the cookie, the one answer to every failure, the waits."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from hub.access import Role
from hub.events import Event
from hub.store.models import WebSessionRow
from tests.web.conftest import PASSWORD, Site

LOGIN = "/api/login"


def set_cookie(headers: Any) -> str:
    (cookie,) = headers.getall("Set-Cookie")
    return str(cookie)


async def test_signing_in_gives_a_strict_http_only_cookie_and_signing_out_ends_it(
    site: Site,
) -> None:
    http = await site.client()
    body = {"name": "Sari ", "password": PASSWORD}  # names are trimmed and case-blind
    async with http.post(site.url(LOGIN), json=body) as answer:
        assert answer.status == 200
        cookie = set_cookie(answer.headers)
        signed = await answer.json()
        session_id = answer.cookies["pantau_session"].value
    assert signed["user"]["name"] == "sari" and signed["user"]["role"] == "operator"
    assert session_id not in str(signed)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("pantau_session=")
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie and "Max-Age=43200" in cookie and "Path=/" in cookie
    assert "secure" not in attributes  # plain http on 127.0.0.1: a Secure cookie would be lost
    async with site.hub.db.session() as session:
        stored = list(await session.scalars(select(WebSessionRow.id_hash)))
    # only the digest is kept: a copy of the store opens no session
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]
    async with http.get(site.url("/api/me")) as me:
        assert (await me.json())["kind"] == "user" and (await me.json())["name"] == "sari"
    async with http.post(site.url("/api/logout")) as out:
        assert (await out.json()) == {"signed_out": True}
        assert "pantau_session=" in set_cookie(out.headers)  # the browser is told to forget it
    async with http.get(site.url("/api/me")) as after:
        assert after.status == 401
    # the old cookie, kept by someone, opens nothing any more
    stale = await site.client(Cookie=f"pantau_session={session_id}")
    async with stale.get(site.url("/api/me")) as replayed:
        assert replayed.status == 401
        assert (await replayed.json())["error"] == "the session ended: sign in again"


async def test_over_https_the_cookie_is_secure_and_host_only(
    start_site: Callable[..., Any],
) -> None:
    site: Site = await start_site(public_url="https://pantau.patikab.go.id")
    http = await site.client()
    body = {"name": "sari", "password": PASSWORD}
    async with http.post(site.url(LOGIN), json=body) as answer:
        assert answer.status == 200
        cookie = set_cookie(answer.headers)
    assert cookie.startswith("__Host-pantau_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Domain" not in cookie
    # the hub's public origin is its own: a form there may post
    origin = {"Origin": "https://pantau.patikab.go.id"}
    async with http.post(site.url(LOGIN), json=body, headers=origin) as again:
        assert again.status == 200


async def test_an_unknown_name_a_wrong_password_and_a_disabled_user_look_alike(
    site: Site,
) -> None:
    await site.accounts.users.set_disabled("bupati", True)
    http = await site.client()
    tries = {
        "wrong": {"name": "sari", "password": "Bukan-Sandinya-2026"},
        "unknown": {"name": "siapa", "password": "Bukan-Sandinya-2026"},
        "disabled": {"name": "bupati", "password": PASSWORD},
    }
    answers: dict[str, tuple[int, str, float]] = {}
    for label, body in tries.items():
        took = []
        for _ in range(2):
            started = time.perf_counter()
            async with http.post(site.url(LOGIN), json=body) as answer:
                text = await answer.text()
                status = answer.status
                assert "Set-Cookie" not in answer.headers
            took.append(time.perf_counter() - started)
        answers[label] = (status, text, min(took))
    assert {(status, text) for status, text, _ in answers.values()} == {
        (401, '{"error": "wrong name or password"}')
    }
    # an unknown name costs a password check too: its answer is not the quick one
    assert answers["unknown"][2] > 0.3 * answers["wrong"][2]


async def test_failed_sign_ins_make_the_next_ones_wait_whether_the_name_exists_or_not(
    site: Site,
) -> None:
    http = await site.client()
    for name in ("sari", "siapa-saja"):
        wrong = {"name": name, "password": "Tebak-Tebakan-2026"}
        for _ in range(5):
            async with http.post(site.url(LOGIN), json=wrong) as answer:
                assert answer.status == 401
        # the right password waits too: the guesser cannot tell that it was right
        right = {"name": name, "password": PASSWORD}
        async with http.post(site.url(LOGIN), json=right) as waiting:
            assert waiting.status == 429
            assert waiting.headers["Retry-After"] == "1"
            assert "try again in 1 s" in (await waiting.json())["error"]
    await asyncio.sleep(1.1)
    async with http.post(site.url(LOGIN), json={"name": "sari", "password": "Salah-2026!"}) as x:
        assert x.status == 401  # the sixth failure: now two seconds
    async with http.post(site.url(LOGIN), json={"name": "sari", "password": PASSWORD}) as y:
        assert y.status == 429 and y.headers["Retry-After"] == "2"
    await asyncio.sleep(2.1)
    async with http.post(site.url(LOGIN), json={"name": "sari", "password": PASSWORD}) as z:
        assert z.status == 200
    # another name from the same address was never slowed by sari's failures
    async with http.post(site.url(LOGIN), json={"name": "ana", "password": PASSWORD}) as other:
        assert other.status == 200


async def test_a_malformed_sign_in_is_400_and_a_cross_site_one_403(site: Site) -> None:
    http = await site.client()
    for raw in (b"{", b"[]", b'{"name": "sari"}', b'{"name": 1, "password": 2}'):
        async with http.post(site.url(LOGIN), data=raw) as answer:
            assert answer.status == 400
    body = {"name": "sari", "password": PASSWORD}
    evil = {"Origin": "https://pantau-palsu.example"}
    async with http.post(site.url(LOGIN), json=body, headers=evil) as refused:
        assert refused.status == 403


async def test_a_signed_in_browser_cannot_be_made_to_post_from_another_page(site: Site) -> None:
    incident_id = await site.incident("gate")
    http = await site.signed_in(Role.OPERATOR)
    ack = site.url(f"/api/incidents/{incident_id}/ack")
    async with http.post(ack, headers={"Origin": "https://sibling.patikab.go.id"}) as refused:
        assert refused.status == 403
        assert "another site" in (await refused.json())["error"]
    async with http.post(ack, headers={"Origin": site.base}) as taken:
        assert taken.status == 200


async def test_a_new_password_or_disabling_ends_the_users_sessions(site: Site) -> None:
    sari = await site.signed_in(Role.OPERATOR)
    bupati = await site.signed_in(Role.VIEWER)
    await site.accounts.users.set_password("sari", "Sandi-Baru-Yang-Panjang")
    await site.accounts.users.set_disabled("bupati", True)
    for http in (sari, bupati):
        async with http.get(site.url("/api/me")) as answer:
            assert answer.status == 401
    fresh = await site.client()
    new = {"name": "sari", "password": "Sandi-Baru-Yang-Panjang"}
    async with fresh.post(site.url(LOGIN), json=new) as answer:
        assert answer.status == 200


async def test_no_password_token_or_session_id_reaches_a_log_an_answer_or_an_event(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # as configure_logging has it: aiosqlite's DEBUG lines (every statement) stay out
    caplog.set_level(logging.INFO, logger="aiosqlite")
    audited: list[Event] = []
    subscription = site.hub.bus.subscribe("access.*", audited.append, name="test:audit")
    token = await site.token(Role.OPERATOR, "cameras:read")
    texts = []
    http = await site.client()
    for body in (
        {"name": "sari", "password": "Hampir-Benar-2026"},
        {"name": "Kata-Sandi-Rahasia-2026", "password": "typed into the name box"},
        {"name": "sari", "password": PASSWORD},
    ):
        async with http.post(site.url(LOGIN), json=body) as answer:
            texts.append(await answer.text())
            if answer.status == 200:
                session_id = answer.cookies["pantau_session"].value
    for path in ("/api/me", "/api/cameras", "/api/incidents"):
        async with http.get(site.url(path)) as answer:
            texts.append(await answer.text())
        async with http.get(site.url(path), headers={"Authorization": f"Bearer {token}"}) as a:
            texts.append(await a.text())
    async with http.post(site.url("/api/logout")) as out:
        texts.append(await out.text())
    await asyncio.sleep(0.2)  # the bus delivers in its own task
    await subscription.cancel()
    kinds = [event.type for event in audited]
    assert kinds.count("access.login_failed") == 2 and "access.login" in kinds
    assert "access.token_used" in kinds and "access.logout" in kinds
    failed = [e.data for e in audited if e.type == "access.login_failed"]
    assert failed[0]["name"] == "sari" and failed[1]["name"] is None  # no user has that name
    everything = caplog.text + "".join(texts) + "".join(str(e.model_dump()) for e in audited)
    assert "signed in" in caplog.text
    for secret in (PASSWORD, "Hampir-Benar-2026", token, session_id, token.removeprefix("pantau_")):
        assert secret not in everything
