"""The example configurations load cleanly, as `pantau check` will load them in CI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config import Config, load_config, secret_values

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str, tmp_path: Path, *, with_secrets: bool = True) -> Config:
    shutil.copy(EXAMPLES / name, tmp_path / name)
    if with_secrets:
        shutil.copy(EXAMPLES / "secrets.example.yaml", tmp_path / "secrets.yaml")
    return load_config(tmp_path / name, environ={})


def test_pati(tmp_path: Path) -> None:
    config = load_example("pati.yaml", tmp_path)
    assert config.hub.name == "Pantau Pati – Monitor Center Setda"
    assert len(config.sites) == 6
    names = " ".join(site.name for site in config.sites)
    for place in ("Taman Bandeng", "TPA", "Alun-alun", "Patung Kuda"):
        assert place in names
    for site in config.sites:
        assert abs(site.lat - -6.75) < 0.1
        assert abs(site.lon - 111.04) < 0.1
    sites_with_cameras = {camera.site for camera in config.cameras}
    assert sites_with_cameras == {site.id for site in config.sites}
    assert {camera.vendor for camera in config.cameras} == {"rtsp"}
    assert all(camera.password is not None for camera in config.cameras)
    assert {"damkar", "satpol-pp"} <= {responder.id for responder in config.responders}
    assert config.rules
    assert "change-me-hikvision" in secret_values(config)
    # the rules as the incident engine takes them: a night window across midnight in Jakarta
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings = config.incident_settings()
    night = next(rule for rule in settings.rules if rule.id == "tpa-gerbang-malam")
    jakarta = ZoneInfo(config.hub.timezone)
    from hub.incidents.rules import in_any_window

    assert in_any_window(night.when, datetime(2026, 11, 24, 23, 30, tzinfo=jakarta), jakarta)
    assert not in_any_window(night.when, datetime(2026, 11, 24, 12, 0, tzinfo=jakarta), jakarta)
    assert settings.escalation_policies[0].steps[0].after == 300


def test_mojokerto(tmp_path: Path) -> None:
    config = load_example("mojokerto.yaml", tmp_path)
    owners = {owner.id: owner for owner in config.owners}
    assert {"diskominfo", "dishub", "satpol-pp"} <= set(owners)
    assert {owner.kind for owner in owners.values()} == {"opd", "private"}
    private = [owner.id for owner in owners.values() if owner.kind == "private"]
    assert any(camera.owner in private for camera in config.cameras)
    assert sum(camera.owner == "dishub" for camera in config.cameras) >= 3
    for site in config.sites:
        assert abs(site.lat - -7.4722) < 0.1
        assert abs(site.lon - 112.4338) < 0.1


def test_examples_need_their_secrets(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="secret 'pati_database_url' not found"):
        load_example("pati.yaml", tmp_path, with_secrets=False)


def test_demo_needs_no_secrets_and_no_environment(tmp_path: Path) -> None:
    config = load_example("demo.yaml", tmp_path, with_secrets=False)
    assert (config.hub.web.host, config.hub.web.port) == ("127.0.0.1", 8123)
    assert config.hub.data_dir == Path("var")
    assert len(config.sites) == 6
    assert {camera.vendor for camera in config.cameras} == {"sim"}
    assert all(camera.url and camera.url.startswith("sim://") for camera in config.cameras)
    # channel URLs are secrets by type; the demo's one is the local inbox and holds none
    assert secret_values(config) == {"json://127.0.0.1:8123/plugins/inbox/messages"}


def test_secrets_example_holds_only_what_the_examples_use() -> None:
    used = set()
    for name in ("pati.yaml", "mojokerto.yaml"):
        for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines():
            if "!secret " in line:
                used.add(line.split("!secret ", 1)[1].strip())
    given = {
        line.split(":", 1)[0]
        for line in (EXAMPLES / "secrets.example.yaml").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert used == given
