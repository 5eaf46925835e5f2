"""Every use of a token, the hub's admin token too, is in the audit log with where it came from."""

from __future__ import annotations

from hub.access import Role
from tests.control.conftest import bearer
from tests.web.conftest import USERS, Site


async def test_admin_token_and_api_token_uses_are_recorded_with_their_address(
    site: Site,
) -> None:
    admin = await site.client(Authorization=f"Bearer {site.admin_token}")
    for _ in range(3):  # once a minute per method and path is enough
        async with admin.get(site.url("/api/cameras")) as answer:
            assert answer.status == 200
    async with admin.get(site.url("/api/plugins")) as answer:
        assert answer.status == 200
    operator = await bearer(site, Role.OPERATOR, "cameras:read")
    async with operator.get(site.url("/api/cameras")) as answer:
        assert answer.status == 200
    assert site.hub.audit_recorder is not None
    await site.hub.audit_recorder.idle()
    uses = list(reversed(await site.hub.audit.records(action="token.use")))
    assert [(r.actor, r.actor_kind, r.details["path"]) for r in uses] == [
        ("admin-token", "admin-token", "/api/cameras"),
        ("admin-token", "admin-token", "/api/plugins"),
        (uses[2].actor, "token", "/api/cameras"),
    ]
    assert uses[2].actor_name == USERS[Role.OPERATOR]
    assert all(r.source == "127.0.0.1" for r in uses)
    assert all(r.details["method"] == "GET" for r in uses)
    assert site.admin_token not in repr([r.as_dict() for r in uses])
