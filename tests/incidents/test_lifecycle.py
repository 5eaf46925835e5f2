"""The incident engine on a fake clock: conditions, dedup, groups, silences, escalation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.events import Event
from hub.incidents.lifecycle import (
    Acknowledge,
    Decision,
    Escalate,
    IncidentEngine,
    Notify,
    Open,
    Resolve,
    Summary,
    Suppressed,
    Update,
)
from hub.incidents.model import IncidentState, Severity
from hub.incidents.routing import IncidentSettings, Silence
from hub.incidents.rules import CameraFacts

T0 = datetime(2025, 3, 7, 15, 0, tzinfo=UTC)
"""Friday 7 March 2025, 22:00 in Jakarta: the start of an hour bucket."""

CAMERAS = {
    "tpa-gerbang": CameraFacts("tpa-gerbang", "Gerbang TPA", owner="dlh", site="tpa"),
    "tpa-zona": CameraFacts("tpa-zona", "Zona aktif TPA", owner="dlh", site="tpa"),
    "alun-alun": CameraFacts("alun-alun", "Alun-alun", owner="diskominfo", site="alun-alun"),
    "pos-cepat": CameraFacts("pos-cepat", "Pos jaga", owner="dlh", site="pos", offline_after=10.0),
}

RESPONDERS: list[dict[str, Any]] = [
    {"id": "satpol-pp", "name": "Satpol PP", "channels": ["tgram://bot/1"]},
    {"id": "kapolres", "name": "Kapolres", "kind": "person", "channels": ["sms://1"]},
    {"id": "bupati", "name": "Bupati", "kind": "person", "channels": ["sms://2"]},
    {
        "id": "dlh-teknisi",
        "name": "Teknisi DLH",
        "channels": ["ntfy://dlh"],
        "owners": ["dlh"],
        "kinds": ["camera_offline"],
    },
]

STANDARD_POLICY: dict[str, Any] = {
    "id": "standar",
    "steps": [
        {"after": "5m", "responders": ["kapolres"]},
        {"after": "10m", "responders": ["bupati"]},
    ],
    "repeat": 1,
}

MOTION_RULE: dict[str, Any] = {
    "id": "gerak",
    "events": ["motion.*"],
    "responders": ["satpol-pp"],
}

OFFLINE_RULE: dict[str, Any] = {
    "id": "kamera-mati",
    "kind": "camera_offline",
    "for_at_least": "1m",
    "responders": ["satpol-pp"],
}


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def incident_settings(*rules: dict[str, Any], **sections: Any) -> IncidentSettings:
    data: dict[str, Any] = {
        "rules": list(rules),
        "responders": RESPONDERS,
        "escalation_policies": [STANDARD_POLICY],
        **sections,
    }
    return IncidentSettings.model_validate(data)


def make_engine(*rules: dict[str, Any], language: str = "en", **sections: Any) -> IncidentEngine:
    counter = itertools.count(1)
    return IncidentEngine(
        incident_settings(*rules, **sections),
        timezone="Asia/Jakarta",
        cameras=CAMERAS.get,
        new_id=lambda: f"id{next(counter)}",
        language=language,
    )


def event(type_: str, camera: str, when: datetime, **data: Any) -> Event:
    return Event(type=type_, camera_id=camera, time=when, data=data)


def motion(camera: str, when: datetime, zone: str = "gate", *, end: bool = False) -> Event:
    return event("motion.end" if end else "motion.start", camera, when, zone=zone)


D = TypeVar("D")


def of(kind: type[D], decisions: Iterable[Decision]) -> list[D]:
    return [decision for decision in decisions if isinstance(decision, kind)]


def ticks(engine: IncidentEngine, minutes: Iterable[float]) -> list[tuple[float, Decision]]:
    return [(minute, decision) for minute in minutes for decision in engine.tick(at(minute))]


# -- minimum duration and count -------------------------------------------------------------------


def test_a_condition_fires_once_it_has_lasted_not_before_and_not_at_its_end() -> None:
    engine = make_engine({**MOTION_RULE, "for_at_least": "5s"})
    assert engine.handle(motion("tpa-gerbang", at()), at()) == []
    assert engine.tick(at(seconds=4.9)) == []
    [opened] = of(Open, engine.tick(at(seconds=5)))
    assert opened.incident.opened_at == at(seconds=5)
    assert opened.notify == ("satpol-pp",)
    assert engine.tick(at(seconds=30)) == []  # it goes on: no second incident
    assert engine.handle(motion("tpa-gerbang", at(1), end=True), at(1)) == []
    assert [i.id for i in engine.incidents()] == [opened.incident.id]  # no auto-resolve asked


def test_a_condition_that_ended_earlier_never_fires() -> None:
    engine = make_engine({**MOTION_RULE, "for_at_least": "5s"})
    engine.handle(motion("tpa-gerbang", at()), at())
    assert engine.handle(motion("tpa-gerbang", at(seconds=3), end=True), at(seconds=3)) == []
    assert engine.tick(at(seconds=5)) == [] and engine.tick(at(10)) == []
    # an end in another zone does not end this zone's motion
    engine.handle(motion("tpa-gerbang", at(20)), at(20))
    engine.handle(motion("tpa-gerbang", at(20, 2), "fence", end=True), at(20, 2))
    assert len(of(Open, engine.tick(at(20, 5)))) == 1


def test_a_start_again_while_it_holds_is_a_repeat_so_a_lost_end_leaves_no_rule_deaf() -> None:
    engine = make_engine({**MOTION_RULE, "for_at_least": "5s"})
    engine.handle(motion("tpa-gerbang", at()), at())
    assert engine.handle(motion("tpa-gerbang", at(seconds=2)), at(seconds=2)) == []  # timing
    [opened] = of(Open, engine.tick(at(seconds=5)))
    [again] = engine.handle(motion("tpa-gerbang", at(70)), at(70))  # the end never came
    assert isinstance(again, Open) and again.incident.id != opened.incident.id  # next bucket


def test_an_end_that_comes_before_any_tick_still_counts_the_time_it_lasted() -> None:
    engine = make_engine({**MOTION_RULE, "for_at_least": "5s"})
    engine.handle(motion("tpa-gerbang", at()), at())
    decisions = engine.handle(motion("tpa-gerbang", at(seconds=6), end=True), at(seconds=6))
    assert len(of(Open, decisions)) == 1


def test_a_moment_cannot_last() -> None:
    engine = make_engine({**MOTION_RULE, "events": ["line_crossing"], "for_at_least": "5s"})
    engine.handle(event("line_crossing", "alun-alun", at(), state="pulse"), at())
    assert engine.tick(at(1)) == []


def test_a_minimum_count_within_a_window() -> None:
    engine = make_engine({**MOTION_RULE, "count": {"at_least": 3, "within": "1m"}})
    assert engine.handle(motion("tpa-gerbang", at(seconds=0)), at(seconds=0)) == []
    assert engine.handle(motion("tpa-gerbang", at(seconds=40)), at(seconds=40)) == []
    # the first has left the window by now: still two
    assert engine.handle(motion("tpa-gerbang", at(seconds=100)), at(seconds=100)) == []
    assert engine.handle(motion("tpa-gerbang", at(seconds=130)), at(seconds=130)) == []
    assert engine.handle(motion("alun-alun", at(seconds=140)), at(seconds=140)) == []  # per camera
    [opened] = of(Open, engine.handle(motion("tpa-gerbang", at(seconds=150)), at(seconds=150)))
    [again] = of(Update, engine.handle(motion("tpa-gerbang", at(seconds=155)), at(seconds=155)))
    assert again.incident.id == opened.incident.id and again.incident.count == 2


LANDFILL_GATE_YAML = """
id: tpa-gerbang-malam
events: [motion.*]
sites: [tpa]
zones: [gate]
when: {between: 22:00-05:00}
for_at_least: 5s
severity: high
title: "Gerak di {zone}, {camera}"
message: "{camera}: gerak {duration} sejak {time} WIB"
responders: [satpol-pp]
"""


def test_motion_at_the_landfill_gate_at_night_for_five_seconds() -> None:
    engine = make_engine(yaml.safe_load(LANDFILL_GATE_YAML))
    night = T0 + timedelta(hours=1, minutes=30)  # 23:30 in Jakarta
    engine.handle(motion("tpa-gerbang", night), night)
    engine.handle(motion("tpa-gerbang", night, "fence"), night)  # another zone
    engine.handle(motion("alun-alun", night), night)  # another site
    [opened] = engine.tick(night + timedelta(seconds=5))
    assert isinstance(opened, Open)
    assert (opened.incident.title, opened.incident.message) == (
        "Gerak di gate, Gerbang TPA",
        "Gerbang TPA: gerak 5 s sejak 23:30 WIB",
    )
    assert opened.incident.severity is Severity.HIGH and opened.notify == ("satpol-pp",)
    noon = T0 + timedelta(hours=14)  # 12:00 the next day in Jakarta
    engine.handle(motion("tpa-zona", noon), noon)
    assert engine.tick(noon + timedelta(minutes=1)) == []


# -- deduplication --------------------------------------------------------------------------------


def test_repeats_in_one_bucket_update_one_incident_and_the_next_bucket_opens_another() -> None:
    engine = make_engine(MOTION_RULE)
    [first] = of(Open, engine.handle(motion("tpa-gerbang", at()), at()))
    for minute in (10, 20, 59):
        [update] = of(Update, engine.handle(motion("tpa-gerbang", at(minute)), at(minute)))
        assert update.incident.id == first.incident.id and update.notify == ()
    assert engine.incident(first.incident.id) is not None
    assert engine.incidents()[0].count == 4
    [other_camera] = of(Open, engine.handle(motion("alun-alun", at(30)), at(30)))
    [next_bucket] = of(Open, engine.handle(motion("tpa-gerbang", at(60)), at(60)))
    assert len({first.incident.id, other_camera.incident.id, next_bucket.incident.id}) == 3
    assert first.incident.key == "dlh/tpa-gerbang/gerak/2025-03-07T22:00:00+07:00"
    assert next_bucket.incident.key.endswith("T23:00:00+07:00")


def test_a_bucket_of_a_day_runs_from_midnight_on_the_hub_clock() -> None:
    engine = make_engine({**MOTION_RULE, "bucket": "1d"})
    [first] = of(Open, engine.handle(motion("tpa-gerbang", at()), at()))
    assert of(Update, engine.handle(motion("tpa-gerbang", at(119)), at(119)))  # 23:59 WIB
    [after_midnight] = of(Open, engine.handle(motion("tpa-gerbang", at(120)), at(120)))
    assert after_midnight.incident.key.endswith("2025-03-08T00:00:00+07:00")
    assert after_midnight.incident.id != first.incident.id


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3599), min_size=1, max_size=20))
def test_any_repeats_within_a_bucket_make_one_incident(offsets: list[int]) -> None:
    engine = make_engine(MOTION_RULE)
    decisions: list[Decision] = []
    for offset in sorted(offsets):
        decisions += engine.handle(motion("tpa-gerbang", at(seconds=offset)), at(seconds=offset))
    assert len(of(Open, decisions)) == 1
    assert len(of(Update, decisions)) == len(offsets) - 1
    [incident] = engine.incidents()
    assert incident.count == len(offsets)


# -- grouping -------------------------------------------------------------------------------------


def test_incidents_at_one_site_group_and_the_later_ones_come_in_one_summary() -> None:
    tamper = {"id": "sabotase", "kind": "camera_tampered", "responders": ["satpol-pp"]}
    engine = make_engine(MOTION_RULE, tamper)
    [first] = of(Open, engine.handle(motion("tpa-gerbang", at()), at()))
    [second] = of(Open, engine.handle(motion("tpa-zona", at(1)), at(1)))
    [third] = of(
        Open,
        engine.handle(event("tamper", "tpa-zona", at(2), kind="covered", state="start"), at(2)),
    )
    [elsewhere] = of(Open, engine.handle(motion("alun-alun", at(2)), at(2)))
    assert first.notify == ("satpol-pp",) and first.incident.group_id is not None
    assert second.incident.group_id == third.incident.group_id == first.incident.group_id
    assert (second.notify, second.incident.quiet) == ((), "grouped")
    assert third.notify == () and second.incident.paged_at is None
    assert elsewhere.notify == ("satpol-pp",)
    assert elsewhere.incident.group_id != first.incident.group_id
    assert engine.tick(at(4, 59)) == []
    summaries = of(Summary, engine.tick(at(5)))
    [summary] = [s for s in summaries if s.group_id == first.incident.group_id]
    assert [i.id for i in summary.incidents] == [second.incident.id, third.incident.id]
    assert summary.notify == ("satpol-pp",)
    assert all(i.paged_at == at(5) and i.quiet is None for i in summary.incidents)
    # the window is over: the next one at the site starts a new group and alerts at once
    covered = event("tamper", "tpa-gerbang", at(6), kind="covered", state="start")
    [later] = of(Open, engine.handle(covered, at(6)))
    assert later.notify == ("satpol-pp",) and later.incident.group_id != first.incident.group_id


def test_a_more_severe_incident_does_not_wait_for_the_summary() -> None:
    fire = {
        "id": "api",
        "events": ["intrusion"],
        "severity": "critical",
        "responders": ["kapolres"],
    }
    engine = make_engine(MOTION_RULE, fire)
    [first] = of(Open, engine.handle(motion("tpa-gerbang", at()), at()))
    [urgent] = of(Open, engine.handle(event("intrusion", "tpa-zona", at(1)), at(1)))
    assert urgent.incident.severity is Severity.CRITICAL
    assert urgent.notify == ("kapolres",) and urgent.incident.group_id == first.incident.group_id


def test_a_grouped_incident_acknowledged_before_the_summary_is_left_out() -> None:
    engine = make_engine(MOTION_RULE)
    engine.handle(motion("tpa-gerbang", at()), at())
    [second] = of(Open, engine.handle(motion("tpa-zona", at(1)), at(1)))
    engine.acknowledge(second.incident.id, "operator:sari", at(2))
    assert of(Summary, engine.tick(at(5))) == []


# -- inhibition -----------------------------------------------------------------------------------


def test_an_offline_camera_raises_no_motion_or_tamper_incidents_until_it_is_back() -> None:
    tamper = {"id": "sabotase", "kind": "camera_tampered"}
    engine = make_engine(MOTION_RULE, tamper)
    assert engine.handle(event("camera.offline", "tpa-gerbang", at()), at()) == []
    assert engine.is_offline("tpa-gerbang")
    [suppressed] = engine.handle(motion("tpa-gerbang", at(1)), at(1))
    assert isinstance(suppressed, Suppressed)
    assert (suppressed.reason, suppressed.rule_id, suppressed.camera_id) == (
        "camera offline",
        "gerak",
        "tpa-gerbang",
    )
    tampered = engine.handle(
        event("tamper", "tpa-gerbang", at(2), kind="black", state="start"), at(2)
    )
    assert [type(d) for d in tampered] == [Suppressed]
    assert of(Open, engine.handle(motion("tpa-zona", at(3)), at(3)))  # other cameras go on
    engine.handle(event("camera.online", "tpa-gerbang", at(4)), at(4))
    assert of(Open, engine.handle(motion("tpa-gerbang", at(5)), at(5)))


def test_going_offline_drops_a_condition_being_timed() -> None:
    engine = make_engine({**MOTION_RULE, "for_at_least": "30s"})
    engine.handle(motion("tpa-gerbang", at()), at())
    engine.handle(event("camera.offline", "tpa-gerbang", at(seconds=10)), at(seconds=10))
    engine.handle(event("camera.online", "tpa-gerbang", at(seconds=20)), at(seconds=20))
    assert engine.tick(at(5)) == []


# -- silences -------------------------------------------------------------------------------------


def silence(starts: datetime, ends: datetime, **scope: list[str]) -> dict[str, Any]:
    return {"id": "perbaikan", "starts": starts.isoformat(), "ends": ends.isoformat(), **scope}


def test_silenced_incidents_are_recorded_but_nobody_is_told() -> None:
    engine = make_engine(
        {**MOTION_RULE, "escalation": "standar"},
        silences=[silence(at(), at(30), sites=["tpa"])],
    )
    [quiet] = of(Open, engine.handle(motion("tpa-gerbang", at(10)), at(10)))
    assert (quiet.notify, quiet.incident.quiet, quiet.incident.silence_id) == (
        (),
        "silenced",
        "perbaikan",
    )
    assert engine.incident(quiet.incident.id) is not None  # recorded
    [loud] = of(Open, engine.handle(motion("alun-alun", at(11)), at(11)))  # not in the silence
    assert loud.notify == ("satpol-pp",)
    engine.acknowledge(loud.incident.id, "operator:sari", at(12))
    assert ticks(engine, range(12, 30)) == []  # a silenced incident does not escalate
    # the silence is over: a new incident alerts ...
    [after] = of(Open, engine.handle(motion("tpa-zona", at(31)), at(31)))
    assert after.notify == ("satpol-pp",)
    # ... and so does a repeat of the silenced one, which goes on after the maintenance
    [repeat] = of(Update, engine.handle(motion("tpa-gerbang", at(32)), at(32)))
    assert repeat.notify == ("satpol-pp",) and repeat.incident.quiet is None
    assert [(m, d.step) for m, d in ticks(engine, range(33, 40)) if isinstance(d, Escalate)] == [
        (36, 1),  # the new one, opened at 31
        (37, 1),  # the silenced one, alerted at 32
    ]


def test_silences_added_and_removed_at_run_time() -> None:
    engine = make_engine(MOTION_RULE)
    engine.add_silence(
        Silence.model_validate(silence(at(), at(60), cameras=["tpa-gerbang"], rules=["gerak"]))
    )
    [quiet] = of(Open, engine.handle(motion("tpa-gerbang", at(1)), at(1)))
    assert quiet.incident.quiet == "silenced"
    assert engine.remove_silence("perbaikan") and not engine.remove_silence("perbaikan")
    [loud] = of(Open, engine.handle(motion("pos-cepat", at(2)), at(2)))
    assert loud.notify == ("satpol-pp",)


# -- escalation -----------------------------------------------------------------------------------

ESCALATED = {**MOTION_RULE, "escalation": "standar"}


def escalations(
    decisions: Iterable[tuple[float, Decision]],
) -> list[tuple[float, int, tuple[str, ...]]]:
    return [(m, d.step, d.responders) for m, d in decisions if isinstance(d, Escalate)]


def test_escalation_steps_follow_the_policy_then_repeat_then_stop() -> None:
    engine = make_engine(ESCALATED)
    [opened] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    assert opened.incident.next_escalation_at == at(5)
    assert escalations(ticks(engine, range(0, 180))) == [
        (5, 1, ("kapolres",)),
        (15, 2, ("bupati",)),
        (20, 3, ("kapolres",)),  # repeat: the first step again, 5 min after the last
        (30, 4, ("bupati",)),
    ]
    incident = engine.incident(opened.incident.id)
    assert incident is not None and incident.next_escalation_at is None
    assert incident.notified == ("satpol-pp", "kapolres", "bupati")


def test_acknowledging_stops_escalation() -> None:
    engine = make_engine(ESCALATED)
    [opened] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    assert escalations(ticks(engine, range(0, 7))) == [(5, 1, ("kapolres",))]
    [ack] = engine.acknowledge(opened.incident.id, "kapolres", at(7))
    assert isinstance(ack, Acknowledge)
    assert (ack.by, ack.incident.state, ack.incident.acknowledged_at) == (
        "kapolres",
        IncidentState.ACKNOWLEDGED,
        at(7),
    )
    assert ticks(engine, range(7, 120)) == []
    assert engine.acknowledge(opened.incident.id, "bupati", at(8)) == []  # once is enough
    # a repeat updates the acknowledged incident and wakes nobody
    [update] = engine.handle(motion("alun-alun", at(9)), at(9))
    assert isinstance(update, Update) and update.notify == ()
    assert update.incident.state is IncidentState.ACKNOWLEDGED


def test_missed_steps_are_all_taken_when_the_clock_jumps() -> None:
    engine = make_engine(ESCALATED)
    engine.handle(motion("alun-alun", at()), at())
    assert [d.step for d in of(Escalate, engine.tick(at(16)))] == [1, 2]
    incident = engine.incidents()[0]
    assert incident.next_escalation_at == at(20)  # on the policy's schedule, not the late tick


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40))
def test_no_escalation_after_an_acknowledgement(ack_minute: int) -> None:
    engine = make_engine(ESCALATED)
    [opened] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    seen: list[tuple[float, Decision]] = []
    for minute in range(0, 41):
        if minute == ack_minute:
            engine.acknowledge(opened.incident.id, "operator:sari", at(minute))
        seen += [(minute, d) for d in engine.tick(at(minute))]
    schedule = [(5, 1), (15, 2), (20, 3), (30, 4)]
    assert [(m, step) for m, step, _ in escalations(seen)] == [
        (m, step) for m, step in schedule if m < ack_minute
    ]


def test_the_policy_is_frozen_onto_the_incident_when_it_opens() -> None:
    engine = make_engine(ESCALATED)
    [old] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    faster = {**STANDARD_POLICY, "steps": [{"after": "1m", "responders": ["bupati"]}], "repeat": 0}
    engine.reconfigure(incident_settings(ESCALATED, escalation_policies=[faster]))
    [new] = of(Open, engine.handle(motion("tpa-gerbang", at(0, 30)), at(0, 30)))
    assert new.incident.escalation is not None and len(new.incident.escalation.levels) == 1
    found = {
        (m, d.incident_id, d.step, d.responders)
        for m, d in ticks(engine, range(0, 40))
        if isinstance(d, Escalate)
    }
    assert found == {
        (2, new.incident.id, 1, ("bupati",)),  # 1 min after 00:30
        (5, old.incident.id, 1, ("kapolres",)),
        (15, old.incident.id, 2, ("bupati",)),
        (20, old.incident.id, 3, ("kapolres",)),
        (30, old.incident.id, 4, ("bupati",)),
    }


# -- acknowledge, resolve, auto-resolve -----------------------------------------------------------


def test_resolving_by_hand_names_who_and_closes_it() -> None:
    engine = make_engine(ESCALATED)
    [opened] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    [resolved] = engine.resolve(opened.incident.id, "operator:budi", at(3), "false alarm: a cat")
    assert isinstance(resolved, Resolve)
    assert (resolved.by, resolved.reason, resolved.incident.resolved_at) == (
        "operator:budi",
        "false alarm: a cat",
        at(3),
    )
    assert resolved.incident.state is IncidentState.RESOLVED
    assert engine.incidents() == [] and engine.resolve(opened.incident.id, "x", at(4)) == []
    assert engine.acknowledge("no-such-incident", "x", at(4)) == []
    assert ticks(engine, range(4, 40)) == []
    # the next one, in the same bucket, is a new incident
    [again] = of(Open, engine.handle(motion("alun-alun", at(10)), at(10)))
    assert again.incident.id != opened.incident.id


def test_an_incident_resolves_itself_when_every_condition_of_it_ended() -> None:
    engine = make_engine({**MOTION_RULE, "auto_resolve": True})
    [opened] = of(Open, engine.handle(motion("tpa-gerbang", at(), "gate"), at()))
    [update] = of(Update, engine.handle(motion("tpa-gerbang", at(1), "fence"), at(1)))
    assert update.incident.conditions == ("gerak|tpa-gerbang|gate", "gerak|tpa-gerbang|fence")
    assert engine.handle(motion("tpa-gerbang", at(2), "gate", end=True), at(2)) == []
    [resolved] = engine.handle(motion("tpa-gerbang", at(3), "fence", end=True), at(3))
    assert isinstance(resolved, Resolve)
    assert (resolved.incident.id, resolved.by) == (opened.incident.id, "rule:gerak")


def test_tampering_is_built_in_and_resolves_when_it_ends() -> None:
    engine = make_engine({"id": "sabotase", "kind": "camera_tampered", "responders": ["kapolres"]})
    [opened] = engine.handle(
        event("tamper", "alun-alun", at(), kind="covered", state="start"), at()
    )
    assert isinstance(opened, Open)
    assert opened.incident.title == "Alun-alun was tampered with (covered)"
    assert opened.notify == ("kapolres",)
    [resolved] = engine.handle(
        event("tamper", "alun-alun", at(2), kind="covered", state="end"), at(2)
    )
    assert isinstance(resolved, Resolve) and resolved.by == "rule:sabotase"


def test_data_usage_over_the_package_is_built_in() -> None:
    engine = make_engine({"id": "kuota", "kind": "data_usage", "severity": "low"})
    [opened] = engine.handle(
        event("usage.exceeded", "tpa-zona", at(), used_gb=31, package_gb=30), at()
    )
    assert isinstance(opened, Open)
    assert opened.incident.title == "Zona aktif TPA used more data than its package allows"
    assert opened.incident.auto_resolve is False and opened.incident.kind == "data_usage"


def test_the_default_alert_texts_follow_the_hub_language() -> None:
    usage = event(
        "usage.exceeded", "tpa-zona", at(), used="51.2 GB", allowed="50.0 GB", period="month"
    )
    rule = {"id": "kuota", "kind": "data_usage", "severity": "low"}
    [dalam] = of(Open, make_engine(rule, language="id").handle(usage, at()))
    assert dalam.incident.title == "Kamera Zona aktif TPA melewati kuota paket datanya"
    assert dalam.incident.message.startswith(
        "Zona aktif TPA (tpa) memakai 51.2 GB dari kuota 50.0 GB (per month) pukul 22:00"
    )
    [english] = of(Open, make_engine(rule).handle(usage, at()))
    assert english.incident.message.startswith(
        "Zona aktif TPA (tpa) used 51.2 GB of its 50.0 GB (month) by 22:00"
    )
    custom = {**rule, "title": "Kuota {camera} habis"}
    [own] = of(Open, make_engine(custom, language="id").handle(usage, at()))
    assert own.incident.title == "Kuota Zona aktif TPA habis"


def test_templates_with_unknown_placeholders_reach_the_incident_as_written() -> None:
    engine = make_engine(
        {
            **MOTION_RULE,
            "title": "Gerak di {zone} ({camera}) plat {plat_nomor}",
            "message": "{data.score:.2f}",
        }
    )
    [opened] = engine.handle(motion("tpa-gerbang", at()), at())
    assert isinstance(opened, Open)
    assert opened.incident.title == "Gerak di gate (Gerbang TPA) plat {plat_nomor}"
    assert opened.incident.message == "{data.score:.2f}"


# -- camera offline, flapping ---------------------------------------------------------------------


def test_a_camera_offline_longer_than_its_threshold_pages_and_resolves_when_stable() -> None:
    engine = make_engine(OFFLINE_RULE)
    engine.handle(event("camera.offline", "tpa-gerbang", at()), at())
    assert engine.tick(at(seconds=59)) == []
    [opened] = engine.tick(at(seconds=60))
    assert isinstance(opened, Open)
    assert opened.notify == ("satpol-pp", "dlh-teknisi")  # the rule's, then who covers dlh
    assert opened.incident.title == "Gerbang TPA is offline"
    engine.handle(event("camera.online", "tpa-gerbang", at(seconds=100)), at(seconds=100))
    assert engine.tick(at(seconds=219)) == []
    [resolved] = engine.tick(at(seconds=220))  # back for stable_for (2 min)
    assert isinstance(resolved, Resolve) and resolved.reason == "back online and stable"


def test_a_short_outage_pages_nobody_and_a_camera_may_have_its_own_threshold() -> None:
    engine = make_engine(OFFLINE_RULE)
    engine.handle(event("camera.offline", "tpa-gerbang", at()), at())
    engine.handle(event("camera.online", "tpa-gerbang", at(seconds=30)), at(seconds=30))
    assert ticks(engine, range(0, 30)) == []
    engine.handle(event("camera.offline", "pos-cepat", at(40)), at(40))
    [opened] = engine.tick(at(40, 10))  # pos-cepat: offline_after 10 s
    assert isinstance(opened, Open)


def test_a_flapping_camera_pages_at_most_once_per_flap_window() -> None:
    engine = make_engine(OFFLINE_RULE)

    def say(kind: str, second: float) -> list[Decision]:
        return engine.handle(event(kind, "tpa-gerbang", at(seconds=second)), at(seconds=second))

    say("camera.offline", 0)
    [first] = engine.tick(at(seconds=60))
    assert isinstance(first, Open) and first.notify
    # back and gone again before it was stable: the same incident, nobody woken
    say("camera.online", 100)
    [flap] = say("camera.offline", 150)
    assert isinstance(flap, Update) and flap.notify == () and flap.incident.count == 2
    say("camera.online", 200)
    assert engine.tick(at(seconds=319)) == []
    [resolved] = engine.tick(at(seconds=320))
    assert isinstance(resolved, Resolve)
    # offline again within 15 min of the page: recorded, quiet until the window is over
    say("camera.offline", 400)
    [quiet] = engine.tick(at(seconds=460))
    assert isinstance(quiet, Open) and quiet.notify == ()
    assert (quiet.incident.quiet, quiet.incident.notify_at) == ("flapping", at(seconds=960))
    assert engine.tick(at(seconds=959)) == []
    [late] = engine.tick(at(seconds=960))  # still down when the window ends: now it pages
    assert isinstance(late, Notify) and late.notify == ("satpol-pp", "dlh-teknisi")
    assert late.incident.id == quiet.incident.id and late.incident.paged_at == at(seconds=960)


def test_a_flap_that_recovers_within_the_window_is_never_paged() -> None:
    engine = make_engine(OFFLINE_RULE)
    engine.handle(event("camera.offline", "tpa-gerbang", at()), at())
    engine.tick(at(1))
    engine.handle(event("camera.online", "tpa-gerbang", at(2)), at(2))
    assert of(Resolve, engine.tick(at(4)))
    engine.handle(event("camera.offline", "tpa-gerbang", at(6)), at(6))
    [quiet] = engine.tick(at(7))
    assert isinstance(quiet, Open) and quiet.notify == ()
    engine.handle(event("camera.online", "tpa-gerbang", at(8)), at(8))
    decisions = [d for _, d in ticks(engine, range(8, 40))]
    assert [type(d) for d in decisions] == [Resolve]
    # past the flap window, a new outage pages again
    engine.handle(event("camera.offline", "tpa-gerbang", at(40)), at(40))
    [paged] = engine.tick(at(41))
    assert isinstance(paged, Open) and paged.notify


# -- state across a restart -----------------------------------------------------------------------


def restart(engine: IncidentEngine, *rules: dict[str, Any], **sections: Any) -> IncidentEngine:
    state = json.loads(json.dumps(engine.to_dict()))  # what the store would keep
    counter = itertools.count(100)
    return IncidentEngine.from_dict(
        state,
        incident_settings(*rules, **sections),
        timezone="Asia/Jakarta",
        cameras=CAMERAS.get,
        new_id=lambda: f"id{next(counter)}",
    )


def test_a_restart_mid_escalation_carries_on_where_it_was() -> None:
    engine = make_engine(ESCALATED)
    [opened] = of(Open, engine.handle(motion("alun-alun", at()), at()))
    assert escalations(ticks(engine, range(0, 7))) == [(5, 1, ("kapolres",))]
    # the policy changes while the hub is down: the incident keeps the one it opened with
    faster = {**STANDARD_POLICY, "steps": [{"after": "1m", "responders": ["satpol-pp"]}]}
    engine = restart(engine, ESCALATED, escalation_policies=[faster])
    assert engine.incidents() == [engine.incident(opened.incident.id)]
    assert escalations(ticks(engine, range(7, 60))) == [
        (15, 2, ("bupati",)),
        (20, 3, ("kapolres",)),
        (30, 4, ("bupati",)),
    ]
    # a repeat after the restart still finds the incident by its key
    [update] = engine.handle(motion("alun-alun", at(50)), at(50))
    assert isinstance(update, Update) and update.incident.count == 2


def test_a_restart_keeps_conditions_inhibition_groups_and_flaps() -> None:
    timed = {**MOTION_RULE, "for_at_least": "30s"}
    engine = make_engine(timed, OFFLINE_RULE)
    engine.handle(motion("tpa-zona", at()), at())
    engine.handle(event("camera.offline", "alun-alun", at()), at())
    engine.handle(motion("tpa-gerbang", at(seconds=-60)), at())  # a condition that lasted already
    engine = restart(engine, timed, OFFLINE_RULE)
    assert engine.is_offline("alun-alun")
    [grouped] = of(Open, engine.tick(at(seconds=30)))  # tpa-zona joins tpa-gerbang's group
    assert grouped.incident.quiet == "grouped"
    assert of(Suppressed, engine.handle(motion("alun-alun", at(0, 40)), at(0, 40)))
    [offline] = of(Open, engine.tick(at(1)))
    engine.handle(event("camera.online", "alun-alun", at(2)), at(2))
    engine = restart(engine, timed, OFFLINE_RULE)
    assert [type(d) for d in engine.tick(at(5))] == [Summary, Resolve]
    engine.handle(event("camera.offline", "alun-alun", at(5)), at(5))
    engine = restart(engine, timed, OFFLINE_RULE)
    [flapping] = engine.tick(at(6))
    assert isinstance(flapping, Open) and flapping.incident.quiet == "flapping"
    assert offline.incident.paged_at is not None
    assert flapping.incident.notify_at == offline.incident.paged_at + timedelta(minutes=15)


def test_a_restart_drops_what_belongs_to_a_rule_that_is_gone() -> None:
    timed = {**MOTION_RULE, "for_at_least": "30s"}
    engine = make_engine(timed)
    engine.handle(motion("tpa-zona", at()), at())
    engine = restart(engine, {**MOTION_RULE, "id": "lain"})
    assert engine.tick(at(5)) == []


def test_state_from_another_version_is_refused() -> None:
    engine = make_engine(MOTION_RULE)
    state = engine.to_dict()
    state["version"] = 99
    try:
        IncidentEngine.from_dict(state, incident_settings(MOTION_RULE))
    except ValueError as error:
        assert "version 99" in str(error)
    else:
        raise AssertionError("no error")
