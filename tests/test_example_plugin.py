"""The plugin template in examples/ loads through the real host, as an entry point and a folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hub.plugins import PluginSource, PluginState
from tests.plugin_kit import PluginLab, open_lab

TEMPLATE = Path(__file__).resolve().parent.parent / "examples" / "plugin-template"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PluginLab]:
    yield from open_lab(tmp_path)


def install_template(lab: PluginLab) -> None:
    site = lab.root / "site"
    shutil.copytree(TEMPLATE / "pantau_sunrise_mall", site / "pantau_sunrise_mall")
    dist = site / "pantau_sunrise_mall-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pantau-sunrise-mall\nVersion: 0.1.0\n", encoding="utf-8"
    )
    entry_points = (
        (TEMPLATE / "pyproject.toml")
        .read_text(encoding="utf-8")
        .split('[project.entry-points."pantau.plugins"]')[1]
    )
    name, module = (
        part.strip().strip('"') for part in entry_points.strip().splitlines()[0].split("=")
    )
    line = f"{name} = {module}"
    (dist / "entry_points.txt").write_text(f"[pantau.plugins]\n{line}\n", encoding="utf-8")


async def test_template_as_entry_point(lab: PluginLab) -> None:
    install_template(lab)
    host = lab.host()
    record = host.records["sunrise_mall"]
    assert record.source is PluginSource.ENTRY_POINT
    assert record.state is PluginState.LOADED
    vendor = host.registered("camera_vendor")["sunrise_mall"].obj
    camera = SimpleNamespace(host=None, options={})
    assert vendor.check_camera(camera) == [
        "vendor 'sunrise_mall' needs the NVR's host",
        "vendor 'sunrise_mall' needs options.channel (1, 2, ...)",
    ]
    assert [r.path for r in host.web_routes] == ["/plugins/sunrise_mall/status"]
    hub = cast(Any, SimpleNamespace())
    await host.setup_all(hub)
    assert record.state.value == "running"
    await host.shutdown_all(hub)
    assert record.state.value == "stopped"


def test_template_as_folder_plugin(lab: PluginLab) -> None:
    shutil.copytree(TEMPLATE / "pantau_sunrise_mall", lab.folder / "sunrise_mall")
    host = lab.host()
    assert host.records["sunrise_mall"].source is PluginSource.FOLDER
    assert host.records["sunrise_mall"].state is PluginState.LOADED
