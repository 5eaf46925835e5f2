"""The models: credentials kept out of URLs and text, database URLs, paths, schema, defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from hub.config import (
    CameraConfig,
    Config,
    HubSettings,
    Owner,
    Responder,
    Rule,
    config_json_schema,
    default_config,
    secret_values,
)
from tests.config.conftest import Problems, Valid


def test_url_credentials_move_to_username_and_password() -> None:
    camera = CameraConfig(
        id="tpa-gerbang",
        name="TPA Sukoharjo",
        owner="dlh",
        url="rtsp://ad%40min:hun:ter2@192.168.40.21:554/cam/realmonitor?channel=1&subtype=0",
    )
    assert camera.url == "rtsp://192.168.40.21:554/cam/realmonitor?channel=1&subtype=0"
    assert camera.username == "ad@min"
    assert camera.password == SecretStr("hun:ter2")
    for text in (str(camera), repr(camera), camera.model_dump_json()):
        assert "hun:ter2" not in text
        assert "ter2" not in text


def test_url_with_a_user_but_no_password() -> None:
    camera = CameraConfig(id="a", name="A", owner="o", url="rtsp://viewer@10.0.0.1/live")
    assert (camera.url, camera.username, camera.password) == (
        "rtsp://10.0.0.1/live",
        "viewer",
        None,
    )


def test_credentials_never_reach_a_loaded_config_or_its_errors(
    valid: Valid, problems: Problems
) -> None:
    text = """
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - id: atcs-1
            name: ATCS 1
            owner: dishub
            url: rtsp://atcs:Rahasia99@10.35.10.21:554/Streaming/Channels/101
        """
    config = valid(text)
    assert "Rahasia99" not in str(config)
    assert "Rahasia99" not in repr(config.cameras[0])
    assert secret_values(config) == {"Rahasia99"}
    broken = """
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - id: atcs-1
            owner: dishub
            url: rtsp://atcs:Rahasia99@10.35.10.21:554/Streaming/Channels/101
            lat: 191
          - {id: atcs-2, name: 2, owner: dishub, url: "ftp://u:Rahasia99@x"}
        """
    assert problems(broken) == [
        "pantau.yaml:3: cameras[0].name: is required",
        "pantau.yaml:6: cameras[0].lat: must be between -90 and 90, got 191",
        "pantau.yaml:7: cameras[1].name: must be text, got 2 (put it in quotes)",
        "pantau.yaml:7: cameras[1].url: "
        "must start with one of rtsp://, rtsps://, http://, https://, file://, sim://",
    ]


def test_credentials_given_twice(problems: Problems) -> None:
    text = """
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - id: atcs-1
            name: ATCS 1
            owner: dishub
            url: rtsp://atcs:Rahasia99@10.35.10.21/live
            username: atcs
        """
    lines = problems(text)
    assert lines == [
        "pantau.yaml:6: cameras[0].url: credentials given twice: in url and as username/password"
    ]


def test_pydantic_errors_in_code_do_not_quote_passwords() -> None:
    with pytest.raises(ValidationError) as caught:
        CameraConfig(id="a", name="A", owner="o", url="rtsp://u:Rahasia99@x/", password="p")
    assert "Rahasia99" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "sqlite+aiosqlite:///var/pantau.db"),
        ("sqlite:///data/pantau.db", "sqlite+aiosqlite:///data/pantau.db"),
        ("sqlite+aiosqlite:////srv/pantau.db", "sqlite+aiosqlite:////srv/pantau.db"),
        (
            "postgresql://pantau:sandi@db:5432/pantau",
            "postgresql+asyncpg://pantau:sandi@db:5432/pantau",
        ),
        ("postgres://pantau@db/pantau", "postgresql+asyncpg://pantau@db/pantau"),
        ("postgresql+asyncpg://db/pantau", "postgresql+asyncpg://db/pantau"),
    ],
)
def test_database_url_gets_the_async_driver(given: str | None, expected: str) -> None:
    assert HubSettings.model_validate({"database_url": given}).database_url_value() == expected


def test_default_database_lives_in_data_dir() -> None:
    hub = HubSettings(data_dir=Path("/srv/pantau"))
    assert hub.database_url_value() == "sqlite+aiosqlite:////srv/pantau/pantau.db"


def test_database_password_is_a_secret(valid: Valid) -> None:
    config = valid("hub:\n  database_url: postgresql://pantau:s%40ndi@db/pantau\n")
    assert secret_values(config) == {"s%40ndi", "s@ndi"}
    assert "ndi" not in repr(config.hub)


def test_database_scheme_error_never_shows_the_url(problems: Problems) -> None:
    assert problems("hub:\n  database_url: 'pantau:s3cr3t@db'\n") == [
        "pantau.yaml:2: hub.database_url: must be a sqlite:// or postgresql:// URL, got no scheme"
    ]


def test_plugin_dir_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.config import load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "kota").mkdir()
    (tmp_path / "kota" / "pantau.yaml").write_text(
        "hub:\n  plugin_dir: custom_plugins\n  data_dir: var\n", encoding="utf-8"
    )
    config = load_config("kota/pantau.yaml")
    assert config.hub.plugin_dir == tmp_path.resolve() / "kota" / "custom_plugins"
    assert config.hub.data_dir == Path("var")  # relative to the current folder, as given


def test_plugin_dir_in_code_stays_as_given() -> None:
    assert HubSettings(plugin_dir=Path("plugins")).plugin_dir == Path("plugins")


def test_plugin_options(valid: Valid) -> None:
    config = valid("plugins:\n  rtsp:\n  onvif:\n    enabled: false\n    timeout: 5\n")
    assert config.plugins == {"rtsp": {}, "onvif": {"enabled": False, "timeout": 5}}


def test_empty_sections_mean_their_defaults(valid: Valid) -> None:
    config = valid("hub:\n  web:\n  name:\ncameras:\nplugins:\n")
    assert config.hub.web.port == 8123
    assert config.hub.name == "Pantau"
    assert config.cameras == []


def test_default_config() -> None:
    config = default_config()
    assert config.cameras == []
    assert config.hub.name == "Pantau"
    assert config.hub.timezone == "Asia/Jakarta"
    assert (config.hub.web.host, config.hub.web.port) == ("127.0.0.1", 8123)
    assert config.hub.data_dir == Path("var")
    assert config.hub.plugin_dir is None
    assert config.hub.safe_mode is False
    assert config.hub.plugin_setup_timeout == 30.0
    assert config.hub.shutdown_timeout == 5.0
    assert secret_values(config) == set()


def test_references_are_checked_in_code_too() -> None:
    with pytest.raises(ValidationError) as caught:
        Config(
            owners=[Owner(id="dishub", name="Dishub", kind="opd")],
            cameras=[
                CameraConfig(id="a", name="A", owner="dishub", host="10.0.0.1"),
                CameraConfig(id="a", name="B", owner="dishubb", host="10.0.0.2"),
            ],
            rules=[Rule(id="r", events=["camera.*"], responders=["damkar"])],
        )
    assert caught.value.errors()[0]["msg"] == (
        "Value error, cameras[1].id: duplicate id 'a' (first at cameras[0].id); "
        "cameras[1].owner: no owner with id 'dishubb'; "
        "rules[0].responders[0]: no responder with id 'damkar'"
    )


def test_secret_values_cover_every_kind_of_secret(valid: Valid) -> None:
    text = """
        hub:
          name: !secret hub_name
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - {id: a, name: A, owner: dishub, host: 10.0.0.1, password: kata-sandi}
        responders:
          - id: damkar
            name: Damkar
            channels: ["tgram://123:AAToken/-100", !secret ntfy]
        plugins:
          mqtt:
            password: !secret mqtt
        """
    config = valid(text, secrets="hub_name: Pantau Rahasia\nntfy: ntfy://token@x/pantau\nmqtt: m\n")
    assert secret_values(config) == {
        "Pantau Rahasia",
        "kata-sandi",
        "tgram://123:AAToken/-100",
        "ntfy://token@x/pantau",
        "m",
    }
    responder = config.responders[0]
    assert isinstance(responder, Responder)
    assert "AAToken" not in repr(responder)


def test_json_schema_for_editors() -> None:
    schema = config_json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "hub",
        "owners",
        "sites",
        "cameras",
        "responders",
        "escalation_policies",
        "rules",
        "silences",
        "incidents",
        "data_packages",
        "plugins",
    }
    site = schema["$defs"]["Site"]["properties"]
    assert (site["lat"]["minimum"], site["lat"]["maximum"]) == (-90, 90)
    assert schema["$defs"]["Owner"]["properties"]["kind"]["enum"] == ["opd", "private"]
    assert schema["$defs"]["Owner"]["properties"]["id"]["pattern"] == "^[a-z0-9][a-z0-9_-]{0,63}$"
    password = schema["$defs"]["CameraConfig"]["properties"]["password"]
    assert {"type": "string", "format": "password", "writeOnly": True} in password["anyOf"]
