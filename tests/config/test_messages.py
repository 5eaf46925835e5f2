"""Each kind of mistake gives one plain message naming the file, the line and the field."""

from __future__ import annotations

from tests.config.conftest import Problems


def test_latitude_out_of_range(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: diskominfo
            name: Diskominfo Pati
            kind: opd
        sites:
          - id: alun-alun
            name: Alun-alun Pati
            owner: diskominfo
            lat: 191
            lon: 111.038
        """
    ) == ["pantau.yaml:9: sites[0].lat: must be between -90 and 90, got 191"]


def test_longitude_out_of_range_shows_a_float_as_written(problems: Problems) -> None:
    assert problems(
        """
        cameras:
          - id: cam
            name: Cam
            owner: x
            url: rtsp://10.0.0.1/live
            lon: -180.5
        owners: [{id: x, name: X, kind: opd}]
        """
    ) == ["pantau.yaml:6: cameras[0].lon: must be between -180 and 180, got -180.5"]


def test_bad_port(problems: Problems) -> None:
    assert problems(
        """
        hub:
          web:
            host: 0.0.0.0
            port: 70000
        """
    ) == ["pantau.yaml:4: hub.web.port: must be between 1 and 65535, got 70000"]


def test_port_that_is_not_a_number(problems: Problems) -> None:
    assert problems("hub:\n  web:\n    port: http\n") == [
        "pantau.yaml:3: hub.web.port: must be a whole number, got 'http'"
    ]


def test_missing_field_points_at_the_enclosing_mapping(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: diskominfo
            kind: opd
        """
    ) == ["pantau.yaml:2: owners[0].name: is required"]


def test_unknown_field_suggests_the_one_meant(problems: Problems) -> None:
    assert problems(
        """
        hub:
          name: Pantau
          timezon: Asia/Jakarta
          web:
            prot: 8123
            colour: blue
        """
    ) == [
        "pantau.yaml:3: hub.timezon: is not a known field (did you mean 'timezone'?)",
        "pantau.yaml:5: hub.web.prot: is not a known field (did you mean 'port'?)",
        "pantau.yaml:6: hub.web.colour: is not a known field",
    ]


def test_unknown_section(problems: Problems) -> None:
    assert problems("camera: []\n") == [
        "pantau.yaml:1: camera: is not a known field (did you mean 'cameras'?)"
    ]


def test_bad_literal(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: mall
            name: Mal Majapahit
            kind: swasta
        """
    ) == ["pantau.yaml:4: owners[0].kind: must be one of 'opd', 'private', got 'swasta'"]


def test_bad_severity_lists_every_choice(problems: Problems) -> None:
    assert problems("rules:\n  - id: r\n    events: [tamper]\n    severity: urgent\n") == [
        "pantau.yaml:4: rules[0].severity: "
        "must be one of 'critical', 'high', 'medium', 'low', 'info', got 'urgent'"
    ]


def test_bad_slug(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: Bad Id
            name: Diskominfo
            kind: opd
        """
    ) == [
        "pantau.yaml:2: owners[0].id: must be a lowercase id of letters, digits, '-' or '_', "
        "got 'Bad Id'"
    ]


def test_duplicate_id(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: diskominfo
            name: Diskominfo
            kind: opd
          - id: dishub
            name: Dishub
            kind: opd
          - id: diskominfo
            name: Diskominfo lagi
            kind: opd
        """
    ) == ["pantau.yaml:8: owners[2].id: duplicate id 'diskominfo' (first at line 2)"]


def test_dangling_owner_and_site(problems: Problems) -> None:
    assert problems(
        """
        owners:
          - id: diskominfo
            name: Diskominfo Pati
            kind: opd
        sites:
          - id: simpang
            name: Simpang Empat
            owner: dishubb
            lat: -7.47
            lon: 112.43
        cameras:
          - id: atcs-1
            name: ATCS 1
            owner: diskominfo
            site: simpang-lima
            host: 10.0.0.1
        """
    ) == [
        "pantau.yaml:8: sites[0].owner: no owner with id 'dishubb'",
        "pantau.yaml:15: cameras[0].site: no site with id 'simpang-lima'",
    ]


def test_rule_references(problems: Problems) -> None:
    assert problems(
        """
        rules:
          - id: tpa
            events: [camera.*]
            cameras: [tpa-gerbang]
            responders:
              - damkar
        """
    ) == [
        "pantau.yaml:4: rules[0].cameras[0]: no camera with id 'tpa-gerbang'",
        "pantau.yaml:6: rules[0].responders[0]: no responder with id 'damkar'",
    ]


def test_unknown_time_zone(problems: Problems) -> None:
    assert problems("hub:\n  timezone: Asia/Jakrta\n") == [
        "pantau.yaml:2: hub.timezone: unknown time zone 'Asia/Jakrta'"
    ]


def test_camera_needs_url_or_host_but_not_both(problems: Problems) -> None:
    assert problems(
        """
        owners: [{id: diskominfo, name: Diskominfo, kind: opd}]
        cameras:
          - id: a
            name: A
            owner: diskominfo
          - id: b
            name: B
            owner: diskominfo
            url: rtsp://10.0.0.2/live
            host: 10.0.0.2
        """
    ) == [
        "pantau.yaml:3: cameras[0]: needs either url or host",
        "pantau.yaml:6: cameras[1]: give url or host, not both",
    ]


def test_camera_url_scheme(problems: Problems) -> None:
    assert problems(
        """
        owners: [{id: diskominfo, name: Diskominfo, kind: opd}]
        cameras:
          - {id: a, name: A, owner: diskominfo, url: "ftp://10.0.0.1/x"}
        """
    ) == [
        "pantau.yaml:3: cameras[0].url: "
        "must start with one of rtsp://, rtsps://, http://, https://, file://, sim://"
    ]


def test_wrong_types_in_plain_words(problems: Problems) -> None:
    assert problems(
        """
        owners: [{id: diskominfo, name: Diskominfo, kind: opd}]
        cameras:
          - id: a
            name: 2024
            owner: diskominfo
            host: 10.0.0.1
            enabled: maybe
            tags: dome
            options: [a]
          -
        hub:
          plugin_setup_timeout: 0
          safe_mode: 3
          data_dir: [var]
        """
    ) == [
        "pantau.yaml:4: cameras[0].name: must be text, got 2024 (put it in quotes)",
        "pantau.yaml:7: cameras[0].enabled: must be true or false, got 'maybe'",
        "pantau.yaml:8: cameras[0].tags: must be a list, got 'dome'",
        "pantau.yaml:9: cameras[0].options: must be a mapping, got a list",
        "pantau.yaml:10: cameras[1]: must be a mapping of fields, got an empty value",
        "pantau.yaml:12: hub.plugin_setup_timeout: must be greater than 0, got 0",
        "pantau.yaml:13: hub.safe_mode: must be true or false, got 3",
        "pantau.yaml:14: hub.data_dir: must be a file or folder path, got a list",
    ]


def test_plugin_enabled_must_be_a_boolean(problems: Problems) -> None:
    assert problems(
        """
        plugins:
          rtsp:
            enabled: "no"
          onvif:
          mqtt: 5
        """
    ) == [
        "pantau.yaml:3: plugins.rtsp.enabled: must be true or false, got 'no'",
        "pantau.yaml:5: plugins.mqtt: must be a mapping, got 5",
    ]


def test_rule_needs_events(problems: Problems) -> None:
    assert problems("rules:\n  - id: r\n    events: []\n") == [
        "pantau.yaml:3: rules[0].events: must name at least one event type"
    ]


def test_database_scheme(problems: Problems) -> None:
    assert problems("hub:\n  database_url: mysql://pantau:rahasia@db/pantau\n") == [
        "pantau.yaml:2: hub.database_url: must be a sqlite:// or postgresql:// URL, "
        "got scheme 'mysql'"
    ]


def test_file_that_is_not_a_mapping(problems: Problems) -> None:
    assert problems("- hub\n- cameras\n") == [
        "pantau.yaml:1: must hold sections such as hub: and cameras:, got a list"
    ]


def test_every_error_at_once(problems: Problems) -> None:
    text = """
        hub:
          name: Pantau Pati
          timezone: Asia/Jakrta
          web:
            port: 0
        owners:
          - id: diskominfo
            name: Diskominfo
            kind: opd
          - id: Dishub
            name: Dishub
            kind: pemda
        sites:
          - id: alun-alun
            name: Alun-alun
            owner: diskominfo
            lat: -6.7559
            lon: 111.038
        cameras:
          - id: alun-alun-1
            name: Alun-alun 1
            owner: diskominfo
            site: alun-alun
            url: rtsp://10.33.1.11/Streaming/Channels/101
          - id: alun-alun-2
            owner: diskominfo
            site: alun-alun
            url: rtsp://10.33.1.12/Streaming/Channels/101
          - id: patung-kuda
            name: Patung Kuda
            owner: diskominfoo
            site: alun-alun
            host: 10.33.1.21
            lat: 191
          - id: alun-alun-1
            name: Alun-alun lagi
            owner: diskominfo
            host: 10.33.1.13
        rules:
          - id: kamera-mati
            events: [camera.offline]
            severity: tinggi
            responders: [damkar]
        plugins:
          rtsp:
            enabled: ya
        """
    assert problems(text) == [
        "pantau.yaml:3: hub.timezone: unknown time zone 'Asia/Jakrta'",
        "pantau.yaml:5: hub.web.port: must be between 1 and 65535, got 0",
        "pantau.yaml:10: owners[1].id: must be a lowercase id of letters, digits, '-' or '_', "
        "got 'Dishub'",
        "pantau.yaml:12: owners[1].kind: must be one of 'opd', 'private', got 'pemda'",
        "pantau.yaml:25: cameras[1].name: is required",
        "pantau.yaml:31: cameras[2].owner: no owner with id 'diskominfoo'",
        "pantau.yaml:34: cameras[2].lat: must be between -90 and 90, got 191",
        "pantau.yaml:35: cameras[3].id: duplicate id 'alun-alun-1' (first at line 20)",
        "pantau.yaml:42: rules[0].severity: must be one of 'critical', 'high', 'medium', 'low', "
        "'info', got 'tinggi'",
        "pantau.yaml:43: rules[0].responders[0]: no responder with id 'damkar'",
        "pantau.yaml:46: plugins.rtsp.enabled: must be true or false, got 'ya'",
    ]
