"""CGI answers read into device information, channels and presets."""

from __future__ import annotations

import pytest

from hub.vendors import ChannelInfo, PtzPreset
from plugins.dahua import parsers
from tests.plugins.dahua.fakecam import crlf, fixture


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_recorded_magicbox_answers(line_end: str) -> None:
    def read(name: str) -> dict[str, str]:
        text = fixture(f"cgi/{name}").replace("\n", line_end)
        return parsers.key_values(line_end + text + line_end + line_end)

    system = read("magicBox.getSystemInfo.IPC-HDW5831R-ZE.txt")
    assert system["deviceType"] == "IPC-HDW5831R-ZE"
    assert system["serialNumber"] == "4X7C5A1ZAG21L3F"
    # A value that holds ':' and '=' is kept whole after the first '='.
    assert system["updateSerialCloudUpgrade"].startswith("IPC-HDW5830R-Z:07:01")
    assert read("magicBox.getDeviceType.txt") == {"type": "IPC-HDW5831R-ZE"}
    assert read("magicBox.getSoftwareVersion.txt") == {
        "version": "2.800.0000016.0.R,build:2020-06-05"
    }
    assert read("magicBox.getVendor.txt") == {"vendor": "Dahua"}
    assert read("magicBox.getMachineName.txt") == {"name": "FrontDoorCam"}
    assert read("configManager.getConfig.General.MachineName.txt") == {
        "General.MachineName": "Cam4"
    }


def test_channel_titles_and_count() -> None:
    values = parsers.key_values(
        crlf(
            "table.ChannelTitle[0].Name=Pintu Utara\n\n"
            "ChannelTitle[2].Name=Pasar\nchanneltitle[3].Name=\n"
        )
    )
    titles = parsers.channel_titles(values)
    assert titles == {0: "Pintu Utara", 2: "Pasar"}
    assert parsers.channels(titles, None) == (
        ChannelInfo(1, "Pintu Utara"),
        ChannelInfo(2, None),
        ChannelInfo(3, "Pasar"),
    )
    assert len(parsers.channels(titles, 8)) == 8
    assert parsers.channels({}, None) == (ChannelInfo(1),)
    assert parsers.channels({}, 0) == (ChannelInfo(1),)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("table.MaxRemoteInputChannels=16\r\n", 16),
        ("MaxRemoteInputChannels=4", 4),
        ("table.MaxRemoteInputChannels=\r\n", None),
        ("Error\r\nBad Request!\r\n", None),
    ],
)
def test_max_remote_input_channels(text: str, count: int | None) -> None:
    assert parsers.max_remote_channels(parsers.key_values(text)) == count


def test_presets_in_the_devices_order() -> None:
    text = (
        "presets[10].Index=11\npresets[10].Name=Sebelas\n"
        "presets[2].Index=3\npresets[2].Name=Tiga\npresets[3].Name=no index\n"
    )
    assert parsers.presets(parsers.key_values(text)) == [
        PtzPreset("3", "Tiga"),
        PtzPreset("11", "Sebelas"),
    ]


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("IPC-HDW5831R-ZE", "camera"),
        ("IP Camera", "camera"),
        ("SD49225XA-HNR", "camera"),
        ("DHI-NVR4104HS-P-4KS2", "nvr"),
        ("XVR5108HS-X", "dvr"),
        ("HCVR4104C", "dvr"),
        ("ASI7213X", None),
        (None, None),
    ],
)
def test_device_type_from_the_model(model: str | None, kind: str | None) -> None:
    assert parsers.device_type(model) == kind


def test_dahua_error_answers() -> None:
    assert parsers.is_error("Error\r\nBad Request!\r\n")
    assert parsers.is_error("  error")
    assert not parsers.is_error("OK\r\n")
    assert not parsers.is_error("ErrorCount=0")
