"""A clip cut under a sharing agreement is not handed out once the agreement is revoked: all
through the real API and the hub's own agreement policy."""

from __future__ import annotations

from hub.sharing.policy import AgreementPolicy
from tests.clips.conftest import City

LOBBY = {
    "owner": "sunrise",
    "camera": "mall-lobi",
    "level": "live",
    "purpose": "security",
    "signed_by": "Ibu Ratna, Building Manager",
    "ends_at": None,
}


async def test_a_revoked_agreement_stops_the_download_of_a_clip_it_allowed(city: City) -> None:
    assert isinstance(city.hub.sharing, AgreementPolicy)  # the real policy, not a stand-in
    status, refused, _ = await city.call("sari", "POST", "/api/cameras/mall-lobi/clips", json={})
    assert status == 403, refused  # a private owner's camera: registry only by default
    status, made, _ = await city.call("ana", "POST", "/api/sharing", json=LOBBY)
    assert status == 201, made
    agreement_id = made["agreement"]["id"]

    cut = {"pre": 1, "post": 1, "purpose": "cek lobi"}
    status, clip, _ = await city.call("sari", "POST", "/api/cameras/mall-lobi/clips", json=cut)
    assert status == 202, clip
    clip = await city.ready("sari", clip["id"])
    assert clip["state"] == "ready", clip
    status, video, _ = await city.call("sari", "GET", clip["video"])
    assert status == 200 and len(video) == clip["size"]  # allowed while the agreement holds

    revoke = {"reason": "the mall withdrew consent"}
    path = f"/api/sharing/{agreement_id}/revoke"
    status, revoked, _ = await city.call("ana", "POST", path, json=revoke)
    assert status == 200, revoked
    status, refused, _ = await city.call("sari", "GET", clip["video"])
    assert status == 403, refused
    assert "no clips of camera 'mall-lobi'" in refused["error"] and "registry" in refused["error"]
    status, refused, _ = await city.call("sari", "POST", "/api/cameras/mall-lobi/clips", json=cut)
    assert status == 403, refused
    status, own, _ = await city.call("mall-it", "GET", clip["video"])
    assert status == 200 and own == video  # the owner's own clip stays its own to take
