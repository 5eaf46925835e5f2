"""PTZ commands reach the device as the right ONVIF requests; fixed cameras say Unsupported."""

from __future__ import annotations

from typing import Any

import pytest

from hub.vendors import PtzMove, PtzPreset, Unsupported
from tests.plugins.onvif.conftest import CameraMaker, SessionMaker
from tests.plugins.onvif.fakecam import Seen

TT = "{http://www.onvif.org/ver10/schema}"


def vector(seen: Seen, name: str) -> dict[str, Any]:
    """PanTilt x/y and Zoom x of a request's vector element (Velocity, Position, ...)."""
    element = next(e for e in seen.body.iter() if isinstance(e.tag, str) and e.tag.endswith(name))
    pan_tilt, zoom = element.find(f"{TT}PanTilt"), element.find(f"{TT}Zoom")
    return {
        "pan": float(pan_tilt.get("x")),
        "tilt": float(pan_tilt.get("y")),
        "zoom": float(zoom.get("x")),
    }


async def test_moves_reach_the_device(make_camera: CameraMaker, open_session: SessionMaker) -> None:
    camera = await make_camera("agsh-hd-predator")
    session = open_session(camera)

    await session.ptz(PtzMove(kind="continuous", pan=0.5, tilt=-0.25, zoom=0.1, timeout=2.0))
    move = camera.seen("ContinuousMove")[-1]
    assert move.text("ProfileToken") == "main"
    assert vector(move, "Velocity") == {"pan": 0.5, "tilt": -0.25, "zoom": 0.1}
    assert move.text("Timeout") == "PT2S"

    await session.ptz(PtzMove(kind="continuous", pan=1.0, speed=0.5))
    assert vector(camera.seen("ContinuousMove")[-1], "Velocity")["pan"] == 0.5

    await session.ptz(PtzMove(kind="relative", pan=-0.1, tilt=0.2, speed=0.3))
    move = camera.seen("RelativeMove")[-1]
    assert vector(move, "Translation") == {"pan": -0.1, "tilt": 0.2, "zoom": 0.0}
    assert vector(move, "Speed") == {"pan": 0.3, "tilt": 0.3, "zoom": 0.3}

    await session.ptz(PtzMove(kind="absolute", pan=3.0, tilt=-3.0, zoom=-0.5))
    assert vector(camera.seen("AbsoluteMove")[-1], "Position") == {
        "pan": 1.0,
        "tilt": -1.0,
        "zoom": 0.0,
    }

    await session.ptz(PtzMove(kind="stop"))
    stop = camera.seen("Stop")[-1]
    assert (stop.text("PanTilt"), stop.text("Zoom")) == ("true", "true")

    await session.ptz(PtzMove(kind="home"))
    assert camera.seen("GotoHomePosition")[-1].text("ProfileToken") == "main"

    await session.ptz(PtzMove(kind="goto_preset", preset="P003"))
    assert camera.seen("GotoPreset")[-1].text("PresetToken") == "P003"


async def test_set_preset_overwrites_or_adds(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    session = open_session(camera)
    await session.ptz(PtzMove(kind="set_preset", preset="P002"))
    overwrite = camera.seen("SetPreset")[-1]
    assert (overwrite.text("PresetToken"), overwrite.text("PresetName")) == ("P002", None)
    await session.ptz(PtzMove(kind="set_preset", preset="Gerbang Tol"))
    added = camera.seen("SetPreset")[-1]
    assert (added.text("PresetToken"), added.text("PresetName")) == (None, "Gerbang Tol")
    with pytest.raises(Unsupported, match="needs a preset"):
        await session.ptz(PtzMove(kind="goto_preset"))


async def test_presets_of_two_makes(make_camera: CameraMaker, open_session: SessionMaker) -> None:
    agsh = await make_camera("agsh-hd-predator")
    presets = await open_session(agsh).presets()
    assert presets[0] == PtzPreset(token="P001", name="P001")
    assert PtzPreset(token="Home2", name="Home") in presets

    oem = await make_camera("easy_onvif/enp1a14-ir-25x")
    session = open_session(oem)
    presets = await session.presets()
    assert presets[:2] == [PtzPreset("1", "MIMBER"), PtzPreset("2", "Preset 2")]
    assert oem.seen("GetPresets")[0].text("ProfileToken") == "Profile_1"
    await session.ptz(PtzMove(kind="goto_preset", preset="4", speed=1.0))
    assert oem.seen("GotoPreset")[-1].text("PresetToken") == "4"


async def test_fixed_camera_has_no_ptz(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("easy_onvif/dcs-6511")
    session = open_session(camera)
    with pytest.raises(Unsupported, match="no PTZ"):
        await session.ptz(PtzMove(kind="continuous", pan=0.5))
    with pytest.raises(Unsupported, match="no PTZ"):
        await session.presets()
    assert not camera.seen("ContinuousMove")
