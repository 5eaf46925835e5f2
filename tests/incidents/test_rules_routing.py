"""Responders, schedules, escalation policies and silences: their checks, and who gets told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from hub.config.base import SKIP_REFERENCES
from hub.config.errors import error_location, format_path, plain_message
from hub.incidents.routing import (
    IncidentSettings,
    Responder,
    Roster,
    Silence,
    incident_reference_problems,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
TOKEN = "tgram://123456:SECRET-bot-token/-100200300"

SETTINGS_YAML = f"""
responders:
  - id: damkar
    name: Damkar Kabupaten Pati
    channels: ["{TOKEN}", "mailto://damkar:pw@patikab.go.id"]
    areas: [tpa-sukoharjo, pasar-puri]
    kinds: [kebakaran, camera_tampered]
  - id: operator-malam
    name: Operator shift malam
    kind: person
    channels:
      - {{url: "ntfy://pantau-malam", priority: 1}}
      - {{url: "whatsapp://token@1234/6281234", priority: 0}}
    owners: [dlh]
    on_duty: {{days: [mon-sun], between: 22:00-06:00}}
  - id: dishub
    name: Dishub
    channels: ["json://dishub.example/hook"]
    kinds: [line_crossing]
  - id: kapolres
    name: Kapolres
    kind: person
    channels: ["sms://kapolres"]
escalation_policies:
  - id: malam
    steps:
      - {{after: 5m, responders: [operator-malam]}}
      - {{after: 10m, responders: [kapolres]}}
    repeat: 2
rules:
  - id: tpa-gerbang-malam
    events: [motion.*]
    responders: [damkar]
    escalation: malam
silences:
  - id: perbaikan-tpa
    starts: 2025-03-08 08:00
    ends: 2025-03-08 12:00
    sites: [tpa-sukoharjo]
    rules: [tpa-gerbang-malam]
"""


def settings() -> IncidentSettings:
    return IncidentSettings.model_validate(yaml.safe_load(SETTINGS_YAML))


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        IncidentSettings.model_validate(data)
    return [
        ": ".join(
            part for part in (format_path(error_location(error)), plain_message(error)) if part
        )
        for error in caught.value.errors(include_url=False)
    ]


def test_the_example_configuration_reads() -> None:
    loaded = settings()
    damkar, operator = loaded.responders[0], loaded.responders[1]
    assert [channel.priority for channel in damkar.channels] == [0, 1]  # list order
    assert [channel.priority for channel in operator.channels_by_priority()] == [0, 1]
    assert operator.channels_by_priority()[0].url.get_secret_value().startswith("whatsapp://")
    assert loaded.escalation_policies[0].steps[1].after == 600.0
    assert loaded.group_window == 300.0
    assert "motion.*" in loaded.inhibit_while_offline


def test_channel_urls_never_show() -> None:
    loaded = settings()
    shown = repr(loaded) + str(loaded) + str(loaded.model_dump())
    assert "SECRET" not in shown and "pw@" not in shown


def test_a_bad_channel_is_told_without_quoting_it() -> None:
    found = problems(
        {
            "responders": [
                {"id": "a", "name": "A", "channels": []},
                {"id": "b", "name": "B", "channels": ["not a url SECRET"]},
                {"id": "c", "name": "C"},
            ]
        }
    )
    assert found == [
        "responders[0].channels: must not be empty",
        "responders[1].channels[0].url: must be an Apprise URL such as tgram://bottoken/ChatID",
        "responders[2].channels: is required",
    ]


def test_every_dangling_reference_is_listed_with_its_path() -> None:
    data = yaml.safe_load(SETTINGS_YAML)
    data["rules"].append(
        {"id": "r2", "events": ["tamper"], "responders": ["damkar", "bpbd"], "escalation": "siang"}
    )
    data["rules"].append({"id": "r2", "events": ["tamper"]})
    data["escalation_policies"][0]["steps"][1]["responders"] = ["kapolres", "psc-119"]
    data["silences"][0]["rules"] = ["tpa-gerbang-siang"]
    found = problems(data)
    assert len(found) == 1  # one model-level error, listing them all
    assert found[0] == (
        "rules[2].id: duplicate id 'r2' (first at rules[1].id); "
        "rules[1].responders[1]: no responder with id 'bpbd'; "
        "rules[1].escalation: no escalation policy with id 'siang'; "
        "escalation_policies[0].steps[1].responders[1]: no responder with id 'psc-119'; "
        "silences[0].rules[0]: no rule with id 'tpa-gerbang-siang'"
    )
    # the loader checks raw data itself, so that it can name lines
    IncidentSettings.model_validate(data, context={SKIP_REFERENCES: True})
    assert [
        (format_path(problem.loc), problem.message) for problem in incident_reference_problems(data)
    ] == [
        ("rules[2].id", "duplicate id 'r2'"),
        ("rules[1].responders[1]", "no responder with id 'bpbd'"),
        ("rules[1].escalation", "no escalation policy with id 'siang'"),
        ("escalation_policies[0].steps[1].responders[1]", "no responder with id 'psc-119'"),
        ("silences[0].rules[0]", "no rule with id 'tpa-gerbang-siang'"),
    ]


def test_reference_checks_survive_raw_data_of_any_shape() -> None:
    assert incident_reference_problems({"rules": "oops", "responders": [1, None]}) == []
    assert incident_reference_problems({}) == []


def test_escalation_policy_mistakes() -> None:
    assert problems(
        {
            "escalation_policies": [
                {"id": "a", "steps": []},
                {"id": "b", "steps": [{"after": 0, "responders": []}], "repeat": -1},
            ]
        }
    ) == [
        "escalation_policies[0].steps: must not be empty",
        "escalation_policies[1].steps[0].after: must be longer than 0 s",
        "escalation_policies[1].steps[0].responders: must not be empty",
        "escalation_policies[1].repeat: must be at least 0, got -1",
    ]


def test_silence_mistakes() -> None:
    assert problems(
        {
            "silences": [
                {
                    "id": "a",
                    "starts": "2025-03-08 12:00",
                    "ends": "2025-03-08 08:00",
                    "sites": ["x"],
                },
                {"id": "b", "starts": "2025-03-08 08:00", "ends": "2025-03-08 12:00"},
            ]
        }
    ) == [
        "silences[0].ends: must be after starts",
        "silences[1]: name at least one of cameras, sites, owners or rules: a silence of "
        "everything would hide every incident",
    ]


def test_a_silence_without_a_zone_is_on_the_hub_clock() -> None:
    silence = settings().silences[0]
    assert silence.starts.tzinfo is None
    assert silence.is_active(datetime(2025, 3, 8, 1, 0, tzinfo=UTC), JAKARTA)  # 08:00 WIB
    assert not silence.is_active(datetime(2025, 3, 8, 5, 0, tzinfo=UTC), JAKARTA)  # 12:00 WIB
    assert silence.matches(
        camera_id="x", site="tpa-sukoharjo", owner="dlh", rule_id="tpa-gerbang-malam"
    )
    assert not silence.matches(
        camera_id="x", site="pasar-puri", owner="dlh", rule_id="tpa-gerbang-malam"
    )
    assert not silence.matches(camera_id="x", site="tpa-sukoharjo", owner="dlh", rule_id="other")
    zoned = Silence.model_validate(
        {
            "id": "z",
            "starts": "2025-03-08T08:00+08:00",
            "ends": "2025-03-08T09:00+08:00",
            "owners": ["o"],
        }
    )
    assert zoned.is_active(datetime(2025, 3, 8, 0, 30, tzinfo=UTC), JAKARTA)


# -- routing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An incident as routing sees it."""

    rule_id: str = "tpa-gerbang-malam"
    kind: str = "event"
    event_type: str = "motion.start"
    site: str | None = "tpa-sukoharjo"
    owner: str | None = "dlh"
    rule_responders: tuple[str, ...] = ()


DAY = datetime(2025, 3, 7, 5, 0, tzinfo=UTC)  # Friday 12:00 in Jakarta
NIGHT = datetime(2025, 3, 7, 18, 0, tzinfo=UTC)  # Saturday 01:00 in Jakarta


def roster() -> Roster:
    return Roster(settings().responders, JAKARTA)


def test_rule_responders_come_first_then_those_covering_and_on_duty() -> None:
    case = Case(rule_responders=("kapolres",))
    assert roster().route(case, DAY) == ["kapolres"]  # damkar does not cover motion
    assert roster().route(case, NIGHT) == ["kapolres", "operator-malam"]  # on shift, owner dlh


def test_a_responder_covers_when_every_list_it_gives_fits() -> None:
    tampered = Case(rule_id="x", kind="camera_tampered", event_type="tamper")
    assert roster().route(tampered, DAY) == ["damkar"]  # area and kind fit
    assert roster().route(Case(rule_id="kebakaran"), DAY) == ["damkar"]  # by rule id
    assert roster().route(Case(rule_id="x", kind="camera_tampered", site="alun-alun"), DAY) == []
    assert roster().route(Case(event_type="line_crossing", site=None, owner=None), DAY) == [
        "dishub"
    ]


def test_a_responder_named_by_nothing_covers_nothing() -> None:
    assert "kapolres" not in roster().route(Case(rule_id="x", site=None, owner=None), NIGHT)
    assert roster().route(Case(rule_responders=("kapolres", "kapolres")), DAY) == ["kapolres"]


def test_channels_of_a_responder_in_failover_order() -> None:
    channels = roster().channels("operator-malam")
    assert [channel.url.get_secret_value().split(":")[0] for channel in channels] == [
        "whatsapp",
        "ntfy",
    ]
    assert roster().channels("nobody") == []
    assert "damkar" in roster() and "nobody" not in roster()


def test_an_on_duty_window_across_midnight() -> None:
    operator = Responder.model_validate(yaml.safe_load(SETTINGS_YAML)["responders"][1])
    assert operator.is_on_duty(datetime(2025, 3, 7, 22, 59, tzinfo=UTC), JAKARTA)  # 05:59
    assert not operator.is_on_duty(datetime(2025, 3, 7, 23, 0, tzinfo=UTC), JAKARTA)  # 06:00
