"""The plugin template in examples/ loads through the real host, as an entry point and a folder."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hub.config import CameraConfig
from hub.plugins import PluginSource, PluginState
from hub.vendors import DeviceVendor, StreamingVendor
from tests.plugin_kit import PluginLab, open_lab

TEMPLATE = Path(__file__).resolve().parent.parent / "examples" / "plugin-template"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PluginLab]:
    yield from open_lab(tmp_path)


def install_template(lab: PluginLab) -> None:
    """Install the template as pip would: its package, and a dist-info with its entry points."""
    project = tomllib.loads((TEMPLATE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = lab.root / "site"
    shutil.copytree(TEMPLATE / "pantau_sunrise_mall", site / "pantau_sunrise_mall")
    dist = site / f"pantau_sunrise_mall-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    lines = [
        f"{name} = {value}" for name, value in project["entry-points"]["pantau.plugins"].items()
    ]
    (dist / "entry_points.txt").write_text(
        "[pantau.plugins]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )


async def test_template_as_entry_point(lab: PluginLab) -> None:
    install_template(lab)
    host = lab.host()
    record = host.records["sunrise_mall"]
    assert record.source is PluginSource.ENTRY_POINT
    assert record.state is PluginState.LOADED
    assert record.origin == "pantau_sunrise_mall (pantau-sunrise-mall)"
    vendor = host.registered("camera_vendor")["sunrise_mall"].obj
    assert isinstance(vendor, DeviceVendor) and isinstance(vendor, StreamingVendor)
    camera = CameraConfig(
        id="lobby", name="Lobby", owner="mall", vendor="sunrise_mall", url="rtsp://10.0.0.2/"
    )
    assert vendor.check_camera(camera) == ["vendor 'sunrise_mall' needs the NVR's host"]
    assert [r.path for r in host.web_routes] == ["/plugins/sunrise_mall/status"]
    hub = cast(Any, SimpleNamespace())
    states = [record.state.value]
    await host.setup_all(hub)
    states.append(record.state.value)
    await host.shutdown_all(hub)
    states.append(record.state.value)
    assert states == ["loaded", "running", "stopped"]


def test_template_as_folder_plugin(lab: PluginLab) -> None:
    shutil.copytree(TEMPLATE / "pantau_sunrise_mall", lab.folder / "sunrise_mall")
    host = lab.host()
    assert host.records["sunrise_mall"].source is PluginSource.FOLDER
    assert host.records["sunrise_mall"].state is PluginState.LOADED
