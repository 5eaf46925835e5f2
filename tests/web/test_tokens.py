"""API tokens over real HTTP: scopes, expiry, revocation, and never more than their user."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from hub.access import AccountError, Role
from tests.web.conftest import Site


async def test_a_token_acts_for_its_user_within_its_scopes(site: Site) -> None:
    token = await site.token(Role.OPERATOR, "cameras:read", name="wall display")
    http = await site.client(Authorization=f"Bearer {token}")
    async with http.get(site.url("/api/me")) as me:
        who = await me.json()
    assert who["kind"] == "token" and who["name"] == "sari" and who["role"] == "operator"
    assert who["access"] == ["cameras:read"] and token not in str(who)
    async with http.get(site.url("/api/cameras")) as cameras:
        assert cameras.status == 200
        assert {c["id"] for c in (await cameras.json())["cameras"]} == {"mall-lobi", "tpa-gerbang"}
    async with http.get(site.url("/api/incidents")) as incidents:
        assert incidents.status == 403
        assert (await incidents.json())["error"].startswith("this needs incidents:read")
    (listed,) = await site.accounts.tokens.list("sari")
    assert listed.name == "wall display" and listed.last_used_at is not None
    assert token not in str(listed.as_dict())


async def test_a_token_never_does_more_than_its_user_may(site: Site) -> None:
    with pytest.raises(AccountError, match="a viewer cannot have incidents:ack"):
        await site.token(Role.VIEWER, "incidents:read", "incidents:ack")
    with pytest.raises(AccountError, match="unknown scope 'everything'"):
        await site.token(Role.ADMIN, "everything")
    with pytest.raises(AccountError, match="at least one scope"):
        await site.token(Role.ADMIN)
    with pytest.raises(AccountError, match="scope 'public'"):
        await site.token(Role.ADMIN, "public")


async def test_expired_revoked_and_disabled_users_tokens_are_refused(site: Site) -> None:
    # Long enough to be used once on a loaded machine; the test then waits it out.
    lives = timedelta(seconds=2)
    short = await site.token(Role.OPERATOR, "cameras:read", lifetime=lives)
    expires = time.monotonic() + lives.total_seconds()
    made, revoked = await site.accounts.tokens.create("sari", ["cameras:read"])
    owners = await site.token(Role.OWNER, "cameras:read")
    http = await site.client()

    async def status(token: str) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(site.url("/api/cameras"), headers=headers) as answer:
            return answer.status, (await answer.json()).get("error", "")

    assert (await status(short))[0] == 200
    await asyncio.sleep(expires + 0.1 - time.monotonic())
    code, why = await status(short)
    assert code == 401 and why.startswith("the token expired at ")
    assert (await status(revoked))[0] == 200
    await site.accounts.tokens.revoke(made.id)
    assert await status(revoked) == (401, "the token is not valid (unknown or revoked)")
    assert (await status(owners))[0] == 200
    await site.accounts.users.set_disabled("mall-it", True)
    assert await status(owners) == (401, "the token's user is disabled")
    await site.accounts.users.set_disabled("mall-it", False)
    assert (await status(owners))[0] == 200
