"""Sharing agreements through a real hub: made, superseded and revoked over HTTP, and obeyed at once
by snapshots, the camera list and alert pictures; owners see only their own; changes audited."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.audit import Action
from hub.events import Event, MotionStart
from tests.incidents.receivers import WebhookReceiver
from tests.sharing.conftest import PASSWORD, Site

SIGNED = "Ibu Ratna, Building Manager"


def agreement(**fields: Any) -> dict[str, Any]:
    return {
        "level": "snapshots",
        "purpose": "security",
        "signed_by": SIGNED,
        "ends_at": None,
        **fields,
    }


async def test_a_snapshot_obeys_the_agreement_made_and_revoked_at_once(site: Site) -> None:
    changes: asyncio.Queue[Event] = asyncio.Queue()
    site.hub.bus.subscribe("sharing.changed", changes.put, name="test:sharing")
    await site.pictures_ready("simpang", "mall-lobi")

    status, refused = await site.call("sari", "GET", "/api/cameras/mall-lobi/snapshot")
    assert status == 403
    assert "hub.sharing.default_private" in refused["error"] and refused["sharing"] == "registry"
    assert (await site.snapshot("sari", "simpang"))[0] == 200  # an agency's camera: live
    status, own = await site.snapshot("mall-it", "mall-lobi")
    assert status == 200 and own[:2] == b"\xff\xd8"  # the owner always sees its own

    body = agreement(camera="mall-lobi")
    status, made = await site.call("mall-it", "POST", "/api/sharing", body)
    assert status == 201, made
    made_id = made["agreement"]["id"]
    assert made["agreement"]["owner"] == "sunrise" and made["agreement"]["recorded_by"] == "mall-it"
    assert made["agreement"]["open_ended"] is True and made["agreement"]["status"] == "in_force"
    status, picture = await site.snapshot("sari", "mall-lobi")
    assert status == 200 and picture[:2] == b"\xff\xd8"

    status, listing = await site.call("sari", "GET", "/api/cameras")
    levels = {camera["id"]: camera["sharing"] for camera in listing["cameras"]}
    assert levels == {"simpang": "live", "mall-lobi": "snapshots", "toko-kasir": "registry"}

    revoke = {"reason": "the mall's lawyer withdrew consent"}
    path = f"/api/sharing/{made_id}/revoke"
    status, revoked = await site.call("mall-it", "POST", path, revoke)
    assert status == 200, revoked
    assert revoked["agreement"]["status"] == "revoked"
    assert (await site.snapshot("sari", "mall-lobi"))[0] == 403  # at once, no restart
    status, again = await site.call("mall-it", "POST", path, revoke)
    assert status == 400 and "nothing to revoke" in again["error"]

    async with asyncio.timeout(5):
        published = [(await changes.get()).data for _ in range(2)]
    assert [(e["change"], e["agreement_id"]) for e in published] == [
        ("made", made_id),
        ("revoked", made_id),
    ]
    records = await site.hub.audit.records(action=Action.SHARING_CHANGE)
    assert [r.details["change"] for r in records] == ["revoked", "made"]  # newest first
    for record in records:
        assert (record.owner_id, record.camera_id) == ("sunrise", "mall-lobi")
        assert (record.actor_name, record.source) == ("mall-it", "127.0.0.1")
        assert record.details["agreement_id"] == made_id
        assert record.details["level"] == "snapshots" and record.details["purpose"] == "security"
    assert records[0].details["reason"] == revoke["reason"]
    views = await site.hub.audit.records(action=Action.SNAPSHOT_VIEW, camera="mall-lobi")
    assert {view.actor_name for view in views} == {"mall-it", "sari"}
    assert len(views) == 2  # the refused snapshots were not shown, so not recorded as views

    status, listed = await site.call("sari", "GET", "/api/sharing?camera=mall-lobi")
    assert status == 200
    assert [a["status"] for a in listed["agreements"]] == ["revoked"]
    assert listed["cameras"] == [
        {
            "camera": "mall-lobi",
            "owner": "sunrise",
            "level": "registry",
            "agreement_id": None,
            "until": None,
            "reason": "sunrise is a private owner with no sharing agreement in force, which "
            "by default (hub.sharing.default_private) shares only where the camera is and "
            "whether it works (registry)",
        }
    ]


async def test_an_owner_sees_and_changes_only_its_own_agreements(site: Site) -> None:
    status, shop = await site.call("ana", "POST", "/api/sharing", agreement(owner="toko"))
    assert status == 201, shop
    shop_id = shop["agreement"]["id"]
    status, mall = await site.call("mall-it", "POST", "/api/sharing", agreement(level="live"))
    assert status == 201, mall

    for query in ("", "?owner=toko", "?camera=mall-lobi"):
        status, seen = await site.call("mall-it", "GET", f"/api/sharing{query}")
        assert status == 200
        assert {a["owner"] for a in seen["agreements"]} == {"sunrise"}, query
        assert {c["owner"] for c in seen["cameras"]} == {"sunrise"}, query
    status, seen = await site.call("mall-it", "GET", "/api/sharing?camera=toko-kasir")
    assert seen == {"agreements": [], "cameras": []}

    revoke = {"reason": "not ours to revoke"}
    status, answer = await site.call("mall-it", "POST", f"/api/sharing/{shop_id}/revoke", revoke)
    assert status == 404 and shop_id in answer["error"]
    status, answer = await site.call("mall-it", "POST", "/api/sharing", agreement(owner="toko"))
    assert status == 403 and "sunrise" in answer["error"]
    status, answer = await site.call(
        "mall-it", "POST", "/api/sharing", agreement(camera="toko-kasir")
    )
    assert status == 404 and "has no camera" in answer["error"]

    status, theirs = await site.call("toko-it", "GET", "/api/sharing")
    assert [(a["id"], a["status"]) for a in theirs["agreements"]] == [(shop_id, "in_force")]
    status, everyone = await site.call("sari", "GET", "/api/sharing")
    assert {a["owner"] for a in everyone["agreements"]} == {"toko", "sunrise"}
    status, answer = await site.call("sari", "POST", "/api/sharing", agreement(owner="toko"))
    assert status == 403  # an operator reads agreements; only admins and owners make them


async def test_making_an_agreement_says_clearly_what_is_wrong_and_supersedes(site: Site) -> None:
    wrong = [
        (agreement(owner="sunrise", level="everything"), "level must be one of registry"),
        (agreement(owner="sunrise", purpose="marketing"), "purpose must be one of security"),
        (agreement(owner="sunrise", signed_by=" "), "name the person who signed"),
        ({**agreement(owner="sunrise"), "ends_at": "kemarin"}, "ends_at must be a date"),
        (
            agreement(owner="sunrise", starts_at="2030-02-01", ends_at="2030-01-31"),
            "ends_at must be after starts_at",
        ),
        (agreement(owner="sunrise", ends_at="2020-01-01"), "ends_at has passed"),
        (agreement(owner="sunrise", live_minutes=0), "live_minutes must be between"),
        (agreement(owner="sunrise", camera="simpang"), "belongs to dishub, not sunrise"),
        (agreement(owner="nobody"), "no owner 'nobody'"),
        (agreement(), "owner is required"),
        (agreement(owner="sunrise", extra=1), "unknown field 'extra'"),
        (
            {"owner": "sunrise", "level": "live", "purpose": "security", "signed_by": "x"},
            "ends_at is required",
        ),
    ]
    for body, message in wrong:
        status, answer = await site.call("ana", "POST", "/api/sharing", body)
        assert status == 400 and message in answer["error"], (body, answer)
    http = await site.as_user("ana")
    async with http.post(site.url("/api/sharing"), data=b"[1, 2]") as response:
        assert response.status == 400
        assert (await response.json())["error"] == "the body must be a JSON object"

    body = agreement(owner="sunrise", ends_at="2099-12-31")
    status, first = await site.call("ana", "POST", "/api/sharing", body)
    assert status == 201 and first["supersedes"] == []
    # a date as the end includes that whole day, in the hub's time zone (Asia/Jakarta)
    assert first["agreement"]["ends_at"] == "2099-12-31T17:00:00+00:00"
    status, second = await site.call("ana", "POST", "/api/sharing", {**body, "level": "live"})
    assert status == 201 and second["supersedes"] == [first["agreement"]["id"]]
    status, listed = await site.call("ana", "GET", "/api/sharing?owner=sunrise")
    assert [a["status"] for a in listed["agreements"]] == ["in_force", "superseded"]
    assert listed["agreements"][1]["superseded_by"] == second["agreement"]["id"]
    status, answer = await site.call("ana", "POST", "/api/sharing/nope/revoke", {})
    assert status == 404
    status, answer = await site.call(
        "ana", "POST", f"/api/sharing/{second['agreement']['id']}/revoke", {}
    )
    assert status == 400 and "say why" in answer["error"]


async def test_an_alert_goes_without_a_picture_the_owner_does_not_share(
    site: Site, receiver: WebhookReceiver
) -> None:
    await site.pictures_ready("simpang", "mall-lobi")
    for camera_id in ("simpang", "mall-lobi"):
        await site.hub.bus.publish(MotionStart.create(camera_id=camera_id, data={"zone": "pintu"}))
    await receiver.wait_for(2)
    hits = {hit.title: hit for hit in receiver.hits}
    (agency,) = [hit for title, hit in hits.items() if "Simpang Empat" in title]
    (mall,) = [hit for title, hit in hits.items() if "Lobi Sunrise" in title]
    (picture,) = agency.attachments.values()
    assert picture[:2] == b"\xff\xd8"
    assert mall.attachments == {}  # the mall shares only the registry: the alert goes without
    assert PASSWORD not in mall.message and "Lobi Sunrise" in mall.title
