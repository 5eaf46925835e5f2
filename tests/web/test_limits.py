"""What a responder's and an owner's users see: their own incidents, their own cameras."""

from __future__ import annotations

from hub.access import Role
from tests.web.conftest import Site


async def test_a_responder_sees_and_acknowledges_only_the_incidents_sent_to_it(
    site: Site,
) -> None:
    fire = await site.incident("gate")  # sent to Damkar, for whom budi answers
    lobby = await site.incident("lobby")  # sent to Satpol PP only
    budi = await site.signed_in(Role.RESPONDER)
    async with budi.get(site.url("/api/incidents")) as listed:
        assert [i["id"] for i in (await listed.json())["incidents"]] == [fire]
    async with budi.post(site.url(f"/api/incidents/{lobby}/ack")) as refused:
        assert refused.status == 403
        assert (await refused.json())["error"] == f"incident {lobby!r} was not sent to damkar"
    async with budi.post(site.url(f"/api/incidents/{fire}/ack"), json={"by": "siapa"}) as ack:
        assert ack.status == 200
        # a signed-in user acts as itself, whatever the body says
        assert (await ack.json())["incident"]["acknowledged_by"] == "budi"
    async with budi.post(site.url(f"/api/incidents/{fire}/resolve")) as resolve:
        assert resolve.status == 403  # responders acknowledge; operators close
    async with budi.post(site.url(f"/api/incidents/{'f' * 32}/ack")) as unknown:
        assert unknown.status == 404
    # a responder's token is held to the same incidents
    token = await site.token(Role.RESPONDER, "incidents:ack")
    machine = await site.client(Authorization=f"Bearer {token}")
    async with machine.post(site.url(f"/api/incidents/{lobby}/ack")) as refused_too:
        assert refused_too.status == 403
    sari = await site.signed_in(Role.OPERATOR)
    async with sari.get(site.url("/api/incidents")) as everything:
        assert {i["id"] for i in (await everything.json())["incidents"]} == {fire, lobby}
    async with sari.post(site.url(f"/api/incidents/{lobby}/ack")) as taken:
        assert (await taken.json())["incident"]["acknowledged_by"] == "sari"
    async with sari.post(site.url(f"/api/incidents/{fire}/resolve")) as closed:
        assert (await closed.json())["incident"]["state"] == "resolved"


async def test_an_owner_sees_only_its_own_cameras(site: Site) -> None:
    mall = await site.signed_in(Role.OWNER)
    async with mall.get(site.url("/api/cameras")) as listed:
        assert [c["id"] for c in (await listed.json())["cameras"]] == ["mall-lobi"]
    async with mall.get(site.url("/api/cameras/tpa-gerbang/snapshot")) as other:
        assert other.status == 404
        assert (await other.json())["error"] == "sunrise has no camera 'tpa-gerbang'"
    async with mall.get(site.url("/api/cameras/mall-lobi/snapshot")) as own:
        assert own.status == 404  # its own camera: no snapshot yet, streams are off here
        assert "no snapshot" in (await own.json())["error"]
    viewer = await site.signed_in(Role.VIEWER)
    async with viewer.get(site.url("/api/cameras")) as wall:
        assert len((await wall.json())["cameras"]) == 2
