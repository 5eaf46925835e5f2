"""Reading the YAML itself: tags, secrets, environment variables, duplicate keys, syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, ConfigIssue, load_config, secret_values
from tests.config.conftest import Problems, Valid, WriteConfig

CAMERA_WITH_SECRET = """
owners: [{id: dlh, name: DLH Pati, kind: opd}]
cameras:
  - id: tpa-gerbang
    name: TPA Sukoharjo, gerbang
    owner: dlh
    host: 192.168.40.21
    username: admin
    password: !secret nvr_password
"""


def test_secret_is_read_from_secrets_yaml_beside_the_file(valid: Valid) -> None:
    config = valid(CAMERA_WITH_SECRET, secrets="nvr_password: 0123-rahasia\n")
    password = config.cameras[0].password
    assert password is not None
    assert password.get_secret_value() == "0123-rahasia"
    assert secret_values(config) == {"0123-rahasia"}


def test_secret_keeps_its_text_exactly(valid: Valid) -> None:
    # YAML 1.1 would read 0123 as the octal number 83: secrets stay text as written
    config = valid(CAMERA_WITH_SECRET, secrets="nvr_password: 0123\n")
    assert config.cameras[0].password is not None
    assert config.cameras[0].password.get_secret_value() == "0123"


def test_missing_secret(problems: Problems) -> None:
    assert problems(CAMERA_WITH_SECRET, secrets="other: x\n") == [
        "pantau.yaml:8: cameras[0].password: secret 'nvr_password' not found in secrets.yaml"
    ]


def test_missing_secrets_file(problems: Problems) -> None:
    assert problems(CAMERA_WITH_SECRET) == [
        "pantau.yaml:8: cameras[0].password: "
        "secret 'nvr_password' not found: secrets.yaml does not exist"
    ]


def test_secrets_file_is_named_as_the_config_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kota").mkdir()
    (tmp_path / "kota" / "pantau.yaml").write_text(CAMERA_WITH_SECRET, encoding="utf-8")
    (tmp_path / "kota" / "secrets.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config("kota/pantau.yaml")
    assert caught.value.issues == [
        ConfigIssue(
            file="kota/pantau.yaml",
            line=9,
            path="cameras[0].password",
            message="secret 'nvr_password' not found in kota/secrets.yaml",
        )
    ]


def test_broken_secrets_file_is_reported_once(problems: Problems) -> None:
    text = CAMERA_WITH_SECRET + "responders:\n  - {id: d, name: D, channels: [!secret tg]}\n"
    assert problems(text, secrets="nvr_password: [unclosed\n") == [
        "secrets.yaml:2: could not parse YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_secret_must_be_a_single_value(problems: Problems) -> None:
    assert problems(CAMERA_WITH_SECRET, secrets="nvr_password: [a, b]\n") == [
        "pantau.yaml:8: cameras[0].password: secret 'nvr_password' in secrets.yaml "
        "must be a single value"
    ]


def test_secret_value_never_appears_in_errors(problems: Problems) -> None:
    text = """
        hub:
          name: !secret hub_name
          timezone: !secret zone
          web:
            port: !secret port
        """
    lines = problems(text, secrets="hub_name: x\nzone: Rahasia/Zona\nport: sandi-123\n")
    assert lines == [
        "pantau.yaml:3: hub.timezone: unknown time zone",
        "pantau.yaml:5: hub.web.port: must be a whole number",
    ]


def test_env_variable(valid: Valid) -> None:
    text = """
        hub:
          database_url: !env PANTAU_DB
          web:
            port: !env PANTAU_PORT
        """
    config = valid(text, environ={"PANTAU_DB": "sqlite:///data/pantau.db", "PANTAU_PORT": "9000"})
    assert config.hub.database_url_value() == "sqlite+aiosqlite:///data/pantau.db"
    assert config.hub.web.port == 9000


def test_env_variable_from_the_process_environment(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANTAU_TEST_NAME", "Pantau Mojokerto")
    config = load_config(write_config("hub:\n  name: !env PANTAU_TEST_NAME\n"))
    assert config.hub.name == "Pantau Mojokerto"


def test_missing_env_variable(problems: Problems) -> None:
    assert problems("hub:\n  name: Pantau\n  database_url: !env PANTAU_X\n") == [
        "pantau.yaml:3: hub.database_url: environment variable PANTAU_X is not set"
    ]


def test_tags_without_a_name(problems: Problems) -> None:
    assert problems("hub:\n  name: !env\n  database_url: !secret ''\n") == [
        "pantau.yaml:2: hub.name: "
        "!env needs the name of an environment variable, like !env PANTAU_DB",
        "pantau.yaml:3: hub.database_url: "
        "!secret needs the name of a secret, like !secret nvr_password",
    ]


def test_unknown_tag(problems: Problems) -> None:
    assert problems("hub:\n  name: !include name.yaml\n  web: !!python/object:os.system {}\n") == [
        "pantau.yaml:2: hub.name: unknown tag !include; only !secret and !env are supported",
        "pantau.yaml:3: hub.web: tag !!python/object:os.system does not fit a list or mapping",
    ]


def test_value_that_does_not_fit_its_tag(problems: Problems) -> None:
    assert problems("hub:\n  name: 2024-13-45\n  shutdown_timeout: !!float lima\n") == [
        "pantau.yaml:2: hub.name: is not a valid timestamp",
        "pantau.yaml:3: hub.shutdown_timeout: is not a valid float",
    ]


def test_duplicate_key(problems: Problems) -> None:
    text = """
        owners:
          - id: diskominfo
            name: Diskominfo
            kind: opd
            name: Dinas Kominfo
        hub: {}
        hub: {}
        """
    assert problems(text) == [
        "pantau.yaml:5: owners[0].name: key 'name' appears twice (first at line 3)",
        "pantau.yaml:7: hub: key 'hub' appears twice (first at line 6)",
    ]


def test_yaml_syntax_error(problems: Problems) -> None:
    text = """
        hub:
          name: Pantau
        cameras:
          - id: a
           name: b
        """
    assert problems(text) == [
        "pantau.yaml:5: "
        "could not parse YAML: expected <block end>, but found '<block mapping start>'"
    ]


def test_unclosed_quote(problems: Problems) -> None:
    assert problems('hub:\n  name: "Pantau\n') == [
        "pantau.yaml:3: could not parse YAML: found unexpected end of stream"
    ]


def test_character_yaml_does_not_allow(problems: Problems) -> None:
    assert problems("hub:\n  name: Pan\x07tau\n") == [
        "pantau.yaml:2: could not parse YAML: character #x0007 is not allowed"
    ]


def test_file_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("tidak-ada.yaml")
    assert str(caught.value) == "tidak-ada.yaml: could not read the file: No such file or directory"


def test_file_that_is_not_utf8(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(b"hub:\n  name: Caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(Path("latin.yaml"))
    assert str(caught.value) == "latin.yaml: could not read the file: it is not UTF-8 text"


@pytest.mark.parametrize("text", ["", "\n", "# nothing yet\n", "---\n", "cameras:\nowners:\n"])
def test_empty_file_is_the_default_config(valid: Valid, text: str) -> None:
    config = valid(text)
    assert config.cameras == []
    assert config.hub.name == "Pantau"


def test_anchors_and_merge_keys(valid: Valid) -> None:
    text = """
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - &atcs
            id: atcs-1
            name: ATCS 1
            owner: dishub
            host: 10.35.10.21
            tags: [atcs]
          - <<: *atcs
            id: atcs-2
            host: 10.35.10.22
        """
    config = valid(text)
    assert [(c.id, c.host, c.tags) for c in config.cameras] == [
        ("atcs-1", "10.35.10.21", ["atcs"]),
        ("atcs-2", "10.35.10.22", ["atcs"]),
    ]


def test_merged_value_errors_point_at_the_anchor(problems: Problems) -> None:
    text = """
        owners: [{id: dishub, name: Dishub, kind: opd}]
        cameras:
          - &atcs
            id: atcs-1
            name: ATCS 1
            owner: dishub
            host: 10.35.10.21
            port: 99999
          - <<: *atcs
            id: atcs-2
        """
    assert problems(text) == [
        "pantau.yaml:8: cameras[0].port: must be between 1 and 65535, got 99999",
        "pantau.yaml:8: cameras[1].port: must be between 1 and 65535, got 99999",
    ]


def test_alias_that_contains_itself(problems: Problems) -> None:
    assert problems("cameras: &loop\n  - *loop\n") == [
        "pantau.yaml:1: an alias refers to the value that contains it"
    ]


def test_aliases_that_expand_too_far(problems: Problems) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert problems("\n".join(lines) + "\n") == [
        "pantau.yaml: the file is too large, or its aliases expand too far"
    ]


def test_second_document(problems: Problems) -> None:
    assert problems("hub: {}\n---\ncameras: []\n") == [
        "pantau.yaml:2: could not parse YAML: "
        "expected a single document in the stream, but found another document"
    ]


def test_keys_that_are_not_text(problems: Problems) -> None:
    assert problems("1: x\nplugins:\n  2: {}\n") == [
        "pantau.yaml:1: 1: keys must be text",
        "pantau.yaml:3: plugins.2: must be text, got 2 (put it in quotes)",
    ]
