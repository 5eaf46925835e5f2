"""Refused logins: the clock is measured and blamed first; the password never shows."""

from __future__ import annotations

import logging
import re

import pytest

from hub.vendors import AuthenticationFailed, ClockSkew, PtzMove, Unsupported, VendorError
from tests.plugins.onvif.conftest import CAMERA, CameraMaker, SessionMaker
from tests.plugins.onvif.fakecam import PASSWORD, Answer, Seen, fault, not_authorized

WRONG = "Salah-Sandi-99"


def leaked(text: str) -> bool:
    return PASSWORD in text or WRONG in text


async def test_clock_far_off_is_reported_before_the_password(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator", clock_offset=3600.0)
    with pytest.raises(ClockSkew) as caught:
        await open_session(camera, password=WRONG).device_info()
    assert 3590 < caught.value.skew_seconds < 3610
    assert re.search(r"\+(3599|3600|3601) s off", str(caught.value))
    assert CAMERA in str(caught.value)
    assert camera.seen("GetSystemDateAndTime")[0].authenticated is False


async def test_wrong_password_with_a_right_clock(
    make_camera: CameraMaker, open_session: SessionMaker
) -> None:
    camera = await make_camera("agsh-hd-predator")
    with pytest.raises(AuthenticationFailed) as caught:
        await open_session(camera, password=WRONG).device_info()
    assert not isinstance(caught.value, ClockSkew)
    assert CAMERA in str(caught.value)


async def test_a_skewed_clock_is_followed_in_the_time_stamps(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    camera = await make_camera("easy_onvif/enp1a14-ir-25x", clock_offset=-600.0)
    session = open_session(camera)
    with caplog.at_level(logging.WARNING, logger="plugins.onvif"):
        info = await session.device_info()
    assert info.model == "ENP1A14-IR/25X"
    assert -610 < info.extra["clock_skew_seconds"] < -590
    assert all(seen.authenticated for seen in camera.requests[1:])
    warned = [r.getMessage() for r in caplog.records if "s off ours" in r.getMessage()]
    assert len(warned) == 1 and CAMERA in warned[0] and re.search(r"-(599|600|601) s", warned[0])


def echo_password(seen: Seen) -> Answer:
    """A device whose fault text repeats what it was sent (some do, with their own words)."""
    return Answer(not_authorized(f"user operator password {PASSWORD} {WRONG} not accepted"), 400)


async def test_password_never_in_errors_or_logs(
    make_camera: CameraMaker, open_session: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plugins.onvif")
    caplog.set_level(logging.INFO)
    camera = await make_camera("agsh-hd-predator")
    errors: list[VendorError] = []

    camera.handlers["GetDeviceInformation"] = echo_password
    with pytest.raises(AuthenticationFailed) as refused:
        await open_session(camera).device_info()
    errors.append(refused.value)

    camera.handlers["ContinuousMove"] = lambda seen: Answer(
        fault("Sender", "ter:InvalidArgVal", f"bad velocity for {PASSWORD}"), 400
    )
    with pytest.raises(Unsupported) as refused_move:
        await open_session(camera).ptz(PtzMove(kind="continuous", pan=2.0))
    errors.append(refused_move.value)

    skewed = await make_camera("agsh-hd-predator", clock_offset=7200.0)
    with pytest.raises(ClockSkew) as skew:
        await open_session(skewed, password=WRONG).streams()
    errors.append(skew.value)

    with pytest.raises(ClockSkew) as events_skew:
        await anext(open_session(skewed, password=WRONG).events())
    errors.append(events_skew.value)

    for error in errors:
        assert not leaked(str(error)) and not leaked(repr(error))
        assert error.__cause__ is None and error.__suppress_context__
    assert "***" in str(errors[1])
    assert caplog.records, "the clock was logged"
    for record in caplog.records:
        assert not leaked(record.getMessage())
        assert not record.exc_info or not leaked(str(record.exc_info[1]))
