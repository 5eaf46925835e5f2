"""From the engine's decisions to outbox records: jobs per channel, stable keys, acks cancel."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.incidents.lifecycle import Acknowledge, Escalate, Open
from hub.incidents.plan import AlertLayout, message, place_of, records
from hub.incidents.routing import IncidentOptions, Responder, Roster
from tests.incidents.test_lifecycle import MOTION_RULE, RESPONDERS, at, make_engine, motion, of

ROSTER_RESPONDERS = [
    *RESPONDERS[1:],
    {
        "id": "satpol-pp",
        "name": "Satpol PP",
        "channels": ["json://127.0.0.1:9/satpol?token=s3cret", "mailto://u:pw@mail.example"],
    },
]


def roster() -> Roster:
    responders = [Responder.model_validate(r) for r in ROSTER_RESPONDERS]
    return Roster(responders, ZoneInfo("Asia/Jakarta"))


def test_an_opened_incident_gives_one_job_per_channel_in_failover_order() -> None:
    engine = make_engine({**MOTION_RULE, "escalation": "standar"})
    (opened,) = of(Open, engine.handle(motion("tpa-gerbang", at(0)), at(0)))
    (record,) = records(opened, roster(), at(0))
    assert record.change.action == "triggered" and record.change.by == "rule:gerak"
    assert record.incident_fields is not None
    assert record.incident_fields["state"] == "triggered"
    assert record.incident_fields["escalation"]["levels"][0]["after"] == 300
    jobs = record.jobs
    assert [(j.responder, j.priority) for j in jobs] == [("satpol-pp", 0), ("satpol-pp", 1)]
    assert len({j.failover_group for j in jobs}) == 1  # one chain: e-mail only if json fails
    assert len({j.idempotency_key for j in jobs}) == 2
    # replayed after a crash: the same keys, so the outbox queues nothing twice
    assert [j.idempotency_key for j in records(opened, roster(), at(0))[0].jobs] == [
        j.idempotency_key for j in jobs
    ]
    # the keys never show the channel's secrets
    assert all("s3cret" not in j.idempotency_key and "pw" not in j.idempotency_key for j in jobs)


def test_escalation_alerts_the_next_level_and_an_ack_cancels_what_is_pending() -> None:
    engine = make_engine({**MOTION_RULE, "escalation": "standar"})
    (opened,) = of(Open, engine.handle(motion("tpa-gerbang", at(0)), at(0)))
    (step,) = of(Escalate, engine.tick(at(5)))
    (record,) = records(step, roster(), at(5))
    assert record.change.action == "escalated" and record.change.data == {"step": step.step}
    assert {j.responder for j in record.jobs} == {"kapolres"}
    (ack,) = of(Acknowledge, engine.acknowledge(opened.incident.id, "operator-budi", at(7)))
    (acked,) = records(ack, roster(), at(7))
    assert acked.change.by == "operator-budi" and acked.jobs == ()
    assert acked.cancel_pending_for == opened.incident.id
    assert acked.incident_fields is not None
    assert acked.incident_fields["acknowledged_by"] == "operator-budi"


def test_the_message_is_in_bahasa_indonesia_unless_english_is_asked() -> None:
    engine = make_engine(MOTION_RULE)
    (opened,) = of(Open, engine.handle(motion("tpa-gerbang", at(0)), at(0)))
    title, body = message(opened.incident, tz=ZoneInfo("Asia/Jakarta"))
    assert title.startswith("[SEDANG] ")
    assert "Sejak 2025-03-07 22:00 WIB (1x)" in body  # 15:00 UTC, read in Jakarta
    title, body = message(opened.incident, "en")
    assert title.startswith("[MEDIUM] ") and "Since " in body


def test_the_place_names_the_site_and_links_a_map() -> None:
    assert place_of("TPA Sukoharjo", "Jl. Raya Pati-Gembong", -6.7, 111.05) == (
        "TPA Sukoharjo, Jl. Raya Pati-Gembong, "
        "https://www.openstreetmap.org/?mlat=-6.700000&mlon=111.050000#map=18/-6.700000/111.050000"
    )
    assert place_of(None, None, None, None) is None
    engine = make_engine(MOTION_RULE)
    (opened,) = of(Open, engine.handle(motion("tpa-gerbang", at(0)), at(0)))
    _, body = message(opened.incident, "en", place="TPA Sukoharjo")
    assert "Place: TPA Sukoharjo" in body


def test_the_whole_alert_layout_can_be_overridden_in_the_config() -> None:
    engine = make_engine(MOTION_RULE)
    (opened,) = of(Open, engine.handle(motion("tpa-gerbang", at(0)), at(0)))
    settings = IncidentOptions.model_validate(
        {
            "alert_title": "PANTAU {severity}: {title}",
            "alert_body": "{message}\nTempat: {place}\nMulai {since}\n{note}\nRef {incident_id}",
        }
    )
    layout = AlertLayout(settings.alert_title, settings.alert_body)
    title, body = message(opened.incident, tz=ZoneInfo("Asia/Jakarta"), layout=layout)
    assert title == f"PANTAU SEDANG: {opened.incident.title}"
    # a line that renders empty ({note} here) is left out; one with text around it stays
    assert body.splitlines() == [
        opened.incident.message,
        "Tempat: ",
        "Mulai 2025-03-07 22:00 WIB",
        f"Ref {opened.incident.id}",
    ]
    only_body = AlertLayout(body="{title} di {place}")
    places = {"tpa-gerbang": "TPA Sukoharjo"}
    (record,) = records(opened, roster(), at(0), places=places, layout=only_body)
    job = record.jobs[0]
    assert job.body == f"{opened.incident.title} di TPA Sukoharjo"
    assert job.title == f"[SEDANG] {opened.incident.title}"  # only the body was overridden
