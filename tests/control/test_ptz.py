"""PTZ through the hub: moves reach the device, are audited first, and are refused clearly."""

from __future__ import annotations

import json

from hub.access import Role
from tests.control.conftest import bearer
from tests.plugins.hikvision.device import PASSWORD, FakeDevice
from tests.web.conftest import USERS, Site

PTZ = "/api/cameras/{}/ptz"


async def ptz_records(site: Site) -> list[dict[str, object]]:
    return [r.as_dict() for r in await site.hub.audit.records(action="ptz.move")]


async def test_a_move_reaches_the_device_after_it_is_recorded(
    site: Site, device: FakeDevice
) -> None:
    http = await site.signed_in(Role.OPERATOR)
    body = {"pan": 0.5, "tilt": -0.25, "seconds": 2}
    headers = {"X-Pantau-Purpose": "kemacetan di simpang"}
    async with http.post(site.url(PTZ.format("simpang-ptz")), json=body, headers=headers) as a:
        assert a.status == 200, await a.text()
        assert (await a.json())["move"] == "continuous"
    await device.wait_for_puts(1)
    path, sent = device.puts[0]
    assert path == "/ISAPI/PTZCtrl/channels/1/momentary"
    assert "<pan>50</pan><tilt>-25</tilt><zoom>0</zoom>" in sent
    assert "<duration>2000</duration>" in sent
    (record,) = await ptz_records(site)
    assert record["actor_name"] == USERS[Role.OPERATOR] and record["actor_kind"] == "user"
    assert record["camera"] == "simpang-ptz" and record["owner"] == "dishub"
    assert record["source"] == "127.0.0.1" and record["purpose"] == "kemacetan di simpang"
    assert record["details"] == {
        "move": "continuous",
        "pan": 0.5,
        "tilt": -0.25,
        "zoom": 0.0,
        "seconds": 2.0,
    }


async def test_presets_are_listed_and_gone_to(site: Site, device: FakeDevice) -> None:
    http = await bearer(site, Role.OPERATOR, "cameras:control")
    async with http.get(site.url("/api/cameras/simpang-ptz/presets")) as answer:
        assert answer.status == 200
        listed = (await answer.json())["presets"]
    assert listed == [{"id": "1", "name": "Gate"}, {"id": "2", "name": "Road"}]
    async with http.post(site.url(PTZ.format("simpang-ptz")), json={"preset": "2"}) as answer:
        assert answer.status == 200
    await device.wait_for_puts(1)
    assert device.puts[0][0] == "/ISAPI/PTZCtrl/channels/1/presets/2/goto"
    async with http.post(site.url(PTZ.format("simpang-ptz")), json={}) as answer:
        assert answer.status == 200 and (await answer.json())["move"] == "stop"
    await device.wait_for_puts(2)
    assert device.puts[1] == (
        "/ISAPI/PTZCtrl/channels/1/continuous",
        "<PTZData><pan>0</pan><tilt>0</tilt><zoom>0</zoom></PTZData>",
    )
    records = await ptz_records(site)
    assert [r["details"] for r in records] == [{"move": "stop"}, {"move": "preset", "preset": "2"}]
    assert all(r["actor_kind"] == "token" for r in records)


async def test_refusals_say_why_and_move_nothing(site: Site, device: FakeDevice) -> None:
    for role in (Role.VIEWER, Role.OWNER):
        signed_in = await site.signed_in(role)
        async with signed_in.post(site.url(PTZ.format("parkir-ptz")), json={"pan": 1}) as answer:
            assert answer.status == 403
    stranger = await site.client()
    async with stranger.post(site.url(PTZ.format("parkir-ptz")), json={"pan": 1}) as answer:
        assert answer.status == 401
    http = await bearer(site, Role.OPERATOR, "cameras:control")
    cases = [
        ("lobi", {"pan": 1}, 409, "this camera cannot move"),
        ("tidak-ada", {"pan": 1}, 404, "no camera 'tidak-ada'"),
        ("simpang-ptz", {"pan": 2}, 400, "pan: Input should be less than or equal to 1"),
        ("simpang-ptz", {"pan": 1, "preset": "1"}, 400, "either a preset or pan/tilt/zoom"),
        ("simpang-ptz", {"pan": 1, "seconds": 60}, 400, "seconds"),
        ("simpang-ptz", {"spin": True}, 400, "spin"),
        ("simpang-ptz", [1], 400, "send a JSON object"),
    ]
    for camera, body, status, message in cases:
        async with http.post(site.url(PTZ.format(camera)), json=body) as answer:
            assert answer.status == status, (camera, body, await answer.text())
            assert message in (await answer.json())["error"], (camera, body)
    async with http.get(site.url("/api/cameras/lobi/presets")) as answer:
        assert answer.status == 409
    assert device.puts == [] and await ptz_records(site) == []


async def test_an_unreachable_or_refusing_device_is_a_502_without_credentials(
    site: Site, device: FakeDevice
) -> None:
    http = await bearer(site, Role.OPERATOR, "cameras:control")
    for camera in ("mati", "salah-sandi"):
        async with http.post(site.url(PTZ.format(camera)), json={"tilt": 1}) as answer:
            assert answer.status == 502, await answer.text()
            text = await answer.text()
        error = json.loads(text)["error"]
        assert error.startswith("the device of camera 'Kubah"), error
        assert PASSWORD not in text and "Bukan-Sandi-1" not in text
    assert device.puts == []
    # the attempts were recorded all the same: who tried to move what, and when
    assert [r["camera"] for r in await ptz_records(site)] == ["salah-sandi", "mati"]


async def test_a_camera_shared_as_registry_only_is_not_moved(
    site: Site, device: FakeDevice
) -> None:
    # sunrise is a private owner without an agreement: it shares the registry only
    http = await bearer(site, Role.OPERATOR, "cameras:control")
    async with http.post(site.url(PTZ.format("parkir-ptz")), json={"pan": -1}) as answer:
        assert answer.status == 403
        assert "sharing agreement does not allow live use" in (await answer.json())["error"]
    async with http.get(site.url("/api/cameras/parkir-ptz/presets")) as answer:
        assert answer.status == 403
    async with http.post(site.url(PTZ.format("simpang-ptz")), json={"pan": -1}) as answer:
        assert answer.status == 200  # the agency's own dome is shared
    await device.wait_for_puts(1)
    assert len(device.puts) == 1
    assert [r["camera"] for r in await ptz_records(site)] == ["simpang-ptz"]
