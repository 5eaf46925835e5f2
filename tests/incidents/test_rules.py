"""Rules: configuration told in plain words, time windows on the hub clock, matching, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.config.errors import error_location, format_path, plain_message
from hub.events import Event, MotionStart, Tamper
from hub.incidents.rules import (
    DAYS,
    CameraFacts,
    Rule,
    TimeWindow,
    event_phase,
    event_subject,
    parse_duration,
    render,
    start_type,
    template_fields,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
GATE_CAMERA = CameraFacts(
    "tpa-gerbang",
    "Gerbang TPA",
    owner="dlh",
    site="tpa-sukoharjo",
    tags=("tpa", "malam"),
    site_name="TPA Sukoharjo",
)


def problems(model: type[Rule] | type[TimeWindow], data: dict[str, Any]) -> list[str]:
    """What the configuration loader would say: `path: message` for every problem."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [
        f"{format_path(error_location(error))}: {plain_message(error)}"
        for error in caught.value.errors(include_url=False)
    ]


def jakarta(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2025 on the Jakarta clock, given in UTC (as events carry it)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


# -- durations, days, windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(90, 90.0), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("1d", 86400.0)],
)
def test_durations_read_as_seconds(written: Any, seconds: float) -> None:
    assert parse_duration(written) == seconds


def test_a_bad_duration_says_how_to_write_one() -> None:
    assert problems(Rule, {"id": "r", "events": ["tamper"], "bucket": "an hour"}) == [
        "bucket: must be a duration such as 90s, 5m or 1h, got 'an hour'"
    ]
    assert problems(Rule, {"id": "r", "events": ["tamper"], "for_at_least": True}) == [
        "for_at_least: must be a duration such as 90s, 5m or 1h, got true"
    ]


def test_days_take_ranges_that_may_wrap_over_the_weekend() -> None:
    assert TimeWindow.model_validate({"days": "mon-fri"}).days == list(DAYS[:5])
    assert TimeWindow.model_validate({"days": ["fri-mon"]}).days == ["fri", "sat", "sun", "mon"]
    assert problems(TimeWindow, {"days": ["jumat"]}) == [
        "days: unknown day 'jumat': use mon, tue, wed, thu, fri, sat or sun"
    ]


def test_a_time_yaml_turned_into_a_number_is_explained() -> None:
    # YAML 1.1 reads an unquoted 22:00 as 1320 (base 60); "22:00-05:00" stays text
    assert yaml.safe_load("between: 22:00") == {"between": 1320}
    assert problems(TimeWindow, yaml.safe_load("between: 22:00")) == [
        "between: must be two times such as '22:00-05:00' (in quotes when alone)"
    ]
    assert problems(TimeWindow, {"between": "22:00-25:00"}) == [
        "between: must be two times such as '22:00-05:00', got '22:00-25:00'"
    ]


NIGHT = TimeWindow.model_validate(yaml.safe_load("between: 22:00-05:00"))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (jakarta(7, 23, 30), True),
        (jakarta(8, 4, 59), True),
        (jakarta(8, 5, 0), False),  # the end is not part of the window
        (jakarta(7, 22, 0), True),
        (jakarta(7, 21, 59), False),
        (jakarta(7, 12, 0), False),
    ],
)
def test_a_window_across_midnight_in_jakarta(moment: datetime, inside: bool) -> None:
    assert moment.tzinfo is UTC  # events carry UTC; the window is read on the Jakarta clock
    assert NIGHT.contains(moment, JAKARTA) is inside


def test_utc_input_is_converted_to_the_hub_clock() -> None:
    # 16:30 UTC is 23:30 in Jakarta (UTC+7), inside; read in UTC it would be outside
    moment = datetime(2025, 3, 7, 16, 30, tzinfo=UTC)
    assert NIGHT.contains(moment, JAKARTA)
    assert not NIGHT.contains(moment, UTC)


FRIDAY_NIGHT = TimeWindow.model_validate({"days": ["fri"], "between": "22:00-02:00"})


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (jakarta(7, 23, 0), True),  # 7 March 2025 is a Friday
        (jakarta(8, 1, 59), True),  # Saturday early: the window began on Friday
        (jakarta(8, 2, 0), False),
        (jakarta(8, 23, 0), False),  # Saturday night: no window starts on Saturday
        (jakarta(6, 23, 0), False),  # Thursday night
        (jakarta(7, 1, 0), False),  # Friday early belongs to a Thursday window
    ],
)
def test_a_day_window_runs_past_midnight_into_the_next_day(moment: datetime, inside: bool) -> None:
    assert FRIDAY_NIGHT.contains(moment, JAKARTA) is inside


def _minute_of_week(moment: datetime) -> int:
    local = moment.astimezone(JAKARTA)
    return local.weekday() * 1440 + local.hour * 60 + local.minute


@given(
    days=st.sets(st.sampled_from(DAYS), min_size=1),
    start=st.integers(0, 1439),
    end=st.integers(0, 1439),
    minute=st.integers(0, 7 * 1440 - 1),
)
def test_windows_agree_with_a_minute_by_minute_reading(
    days: set[str], start: int, end: int, minute: int
) -> None:
    """A window is the minutes from `start`, for `(end - start) mod 1 day`, on each day."""
    between = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    window = TimeWindow.model_validate({"days": sorted(days), "between": between})
    length = (end - start) % 1440 or 1440  # start == end: the whole day
    monday = datetime(2025, 3, 3, tzinfo=JAKARTA)  # a Monday
    moment = (monday + timedelta(minutes=minute, seconds=30)).astimezone(UTC)
    since_starts = [
        (_minute_of_week(moment) - DAYS.index(day) * 1440 - start) % (7 * 1440) for day in days
    ]
    assert window.contains(moment, JAKARTA) is any(since < length for since in since_starts)


# -- rules: configuration -------------------------------------------------------------------------

GATE_RULE_YAML = """
id: tpa-gerbang-malam
name: Gerak di gerbang TPA
events: [motion.*]
sites: [tpa-sukoharjo]
zones: [gate]
when: {between: 22:00-05:00}
for_at_least: 5s
severity: high
title: "Gerak di {zone}, {camera} ({site})"
message: "{camera}: gerak {duration} sejak {time}"
responders: [satpol-pp]
escalation: malam
"""


def test_the_landfill_gate_example_reads_as_written() -> None:
    rule = Rule.model_validate(yaml.safe_load(GATE_RULE_YAML))
    assert rule.for_at_least == 5.0
    assert rule.when[0].between is not None
    assert [part.isoformat() for part in rule.when[0].between] == ["22:00:00", "05:00:00"]
    assert rule.bucket == 3600.0
    assert not rule.resolves


def test_rule_mistakes_are_told_in_plain_words_at_their_field() -> None:
    assert problems(
        Rule,
        {
            "id": "r",
            "events": [],
            "objects": ["cat"],
            "for_at_least": "5s",
            "count": {"at_least": 3, "within": "1m"},
            "tamper_kinds": ["covered"],
            "title": "Gerak {zone",
            "colour": "red",
        },
    ) == [
        "events: must name at least one event type",
        "objects[0]: must be one of 'person', 'vehicle', got 'cat'",
        "tamper_kinds: is only used by rules of kind camera_tampered",
        "count: give for_at_least or count, not both",
        "title: has an unpaired { or }: write {{ or }} for a brace itself",
        "colour: is not a known field",
    ]


def test_built_in_kinds_know_their_own_events() -> None:
    assert problems(Rule, {"id": "r", "kind": "camera_offline", "events": ["camera.offline"]}) == [
        "events: is not used by kind camera_offline: it watches camera.offline, camera.online "
        "by itself"
    ]
    assert problems(Rule, {"id": "r", "kind": "data_usage", "auto_resolve": True}) == [
        "auto_resolve: data_usage incidents have no end: resolve them by hand"
    ]
    assert problems(Rule, {"id": "r", "events": ["tamper"], "flap_window": "10m"}) == [
        "flap_window: is only used by rules of kind camera_offline"
    ]
    offline = Rule.model_validate({"id": "r", "kind": "camera_offline"})
    assert (offline.offline_after, offline.flap_seconds, offline.stable_seconds) == (
        300.0,
        900.0,
        120.0,
    )
    assert offline.resolves
    assert offline.watches("camera.online") and not offline.watches("motion.start")
    assert Rule.model_validate({"id": "t", "kind": "camera_tampered"}).watches("tamper")
    assert Rule.model_validate({"id": "u", "kind": "data_usage"}).watches("usage.exceeded")


def test_event_patterns_are_checked() -> None:
    assert problems(Rule, {"id": "r", "events": ["Motion Start"]}) == [
        "events[0]: must be an event type or a pattern such as motion.* , got 'Motion Start'"
    ]


# -- rules: matching ------------------------------------------------------------------------------


def motion(camera: str = "tpa-gerbang", *, at: datetime | None = None, **data: Any) -> Event:
    moment = at if at is not None else jakarta(7, 23, 30)
    return MotionStart.create(camera_id=camera, time=moment, data={"zone": "gate", **data})


def rule(**fields: Any) -> Rule:
    return Rule.model_validate({"id": "r", "events": ["motion.*"], **fields})


def test_types_match_by_glob() -> None:
    assert rule().matches(motion(), GATE_CAMERA, JAKARTA)
    assert not rule(events=["motion.end"]).matches(motion(), GATE_CAMERA, JAKARTA)
    assert rule(events=["*.start"]).matches(motion(), GATE_CAMERA, JAKARTA)
    assert not rule(events=["intrusion"]).matches(motion(), GATE_CAMERA, JAKARTA)


@pytest.mark.parametrize(
    ("fields", "matches"),
    [
        ({"cameras": ["tpa-gerbang"]}, True),
        ({"cameras": ["alun-alun-01"]}, False),
        ({"tags": ["malam", "x"]}, True),
        ({"tags": ["atcs"]}, False),
        ({"owners": ["dlh"]}, True),
        ({"owners": ["dishub"]}, False),
        ({"sites": ["tpa-sukoharjo"]}, True),
        ({"sites": ["pasar-puri"]}, False),
        ({"zones": ["gate"]}, True),
        ({"zones": ["fence"]}, False),
        ({"objects": ["person"]}, False),  # the event says no object
        ({"sources": ["pixels"]}, True),  # the hub's own motion does not say its source
        ({"sources": ["device"]}, False),
    ],
)
def test_each_filter(fields: dict[str, Any], matches: bool) -> None:
    assert rule(**fields).matches(motion(), GATE_CAMERA, JAKARTA) is matches


def test_device_events_by_object_source_and_region() -> None:
    device = motion(source="device", object="person", zone=None, region="gate")
    assert rule(objects=["person"], sources=["device"], zones=["gate"]).matches(
        device, GATE_CAMERA, JAKARTA
    )
    assert not rule(objects=["vehicle"]).matches(device, GATE_CAMERA, JAKARTA)


def test_camera_filters_fail_for_an_unknown_camera() -> None:
    assert rule().matches(motion("unknown"), None, JAKARTA)
    assert not rule(sites=["tpa-sukoharjo"]).matches(motion("unknown"), None, JAKARTA)


def test_time_of_day_uses_the_event_time() -> None:
    night = rule(when={"between": "22:00-05:00"})
    assert night.matches(motion(at=jakarta(7, 23, 30)), GATE_CAMERA, JAKARTA)
    assert not night.matches(motion(at=jakarta(8, 5, 0)), GATE_CAMERA, JAKARTA)


def test_tamper_kinds() -> None:
    tampered = Rule.model_validate(
        {"id": "t", "kind": "camera_tampered", "tamper_kinds": ["covered"]}
    )
    covered = Tamper.create(camera_id="c", data={"kind": "covered", "state": "start"})
    frozen = Tamper.create(camera_id="c", data={"kind": "frozen", "state": "start"})
    assert tampered.matches(covered, None, JAKARTA)
    assert not tampered.matches(frozen, None, JAKARTA)


def test_phases_pair_starts_with_ends() -> None:
    assert event_phase(motion()) == "start"
    assert event_phase(Event(type="motion.end", data={"zone": "gate"})) == "end"
    assert event_phase(Tamper.create(data={"kind": "black", "state": "end"})) == "end"
    assert event_phase(Event(type="line_crossing", data={"state": "pulse"})) == "pulse"
    assert start_type("motion.end") == "motion.start"
    assert start_type("tamper") == "tamper"
    assert event_subject(motion()) == "gate"
    assert event_subject(Tamper.create(data={"kind": "black"})) == "black"


# -- alert text -----------------------------------------------------------------------------------


def fields_for(event: Event) -> dict[str, Any]:
    return template_fields(rule(), event, GATE_CAMERA, JAKARTA)


def test_templates_fill_camera_and_event_fields_on_the_hub_clock() -> None:
    text = render(
        "{camera} di {site} ({site_id}), zona {zone}, {time} {date}: {data.score:.1f} {data[zone]}",
        fields_for(motion(score=0.75)),
    )
    assert (
        text
        == "Gerbang TPA di TPA Sukoharjo (tpa-sukoharjo), zona gate, 23:30 2025-03-07: 0.8 gate"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{nama_kamera}",
        "{data.plate}",
        "{data[plate]}",
        "{camera:d}",
        "{zone!r:>{width}}",
        "{}",
        "{0}",
        "{event.__class__}",
        "{camera.__class__.__init__}",
    ],
)
def test_an_unknown_placeholder_stays_visible_and_never_fails(template: str) -> None:
    assert render(f"Alarm: {template} !", fields_for(motion())) == f"Alarm: {template} !"


def test_a_broken_template_is_returned_as_written() -> None:
    assert render("{camera", fields_for(motion())) == "{camera"


@given(st.text(max_size=40))
def test_rendering_never_raises(template: str) -> None:
    assert isinstance(render(template, fields_for(motion())), str)


def test_a_rule_of_kind_event_without_events_is_a_mistake() -> None:
    assert problems(Rule, {"id": "r"}) == ["events: must name at least one event type"]
