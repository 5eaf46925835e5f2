"""The outbox on SQLite and PostgreSQL: one transaction per change, leases, failover, results."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.credentials import CredentialBox
from hub.incidents.model import IncidentChange, IncidentState
from hub.incidents.outbox import (
    AttemptResult,
    JobState,
    Outbox,
    default_rate_key,
    describe_channel,
)
from hub.store import Database
from hub.store.models import IncidentRow
from tests.incidents.outbox_kit import T0, history, job, job_rows, later, opening, states

TOKEN = "Tkn9f8e7d6c5b4a3"
HOOK = f"json://127.0.0.1:9/hooks/{TOKEN}"
MAIL_PASSWORD = "Sandi-Rahasia-Damkar-9"
MAIL = f"mailto://damkar:{MAIL_PASSWORD}@127.0.0.1:9?mode=insecure&from=hub@pantau.test&to=piket@damkar.test"


async def test_a_change_its_history_and_its_jobs_are_committed_together(
    db: Database, outbox: Outbox, credentials: CredentialBox
) -> None:
    change, fields = opening()
    queued = await outbox.record(change, fields, [job("k1", HOOK), job("k2", MAIL)])

    assert queued == ["k1", "k2"]
    async with db.session() as session:
        incident = await session.get(IncidentRow, "inc-1")
    assert incident is not None
    assert (incident.state, incident.count, incident.created_at) == ("triggered", 1, T0)
    assert incident.escalation == {"steps": [{"after_s": 0, "to": ["damkar"]}]}
    assert [(h.action, h.by, h.at) for h in await history(db)] == [
        ("triggered", "rule:smoke-inc-1", T0)
    ]
    rows = await job_rows(db)
    assert {key: row.state for key, row in rows.items()} == {"k1": "pending", "k2": "pending"}
    assert rows["k1"].next_attempt_at == T0
    for row, url, secret in ((rows["k1"], HOOK, TOKEN), (rows["k2"], MAIL, MAIL_PASSWORD)):
        # Encrypted at rest, masked for people, and the secret nowhere in the clear.
        assert url not in row.channel_url_encrypted
        assert credentials.decrypt(row.channel_url_encrypted) == url
        assert secret not in row.channel_url_encrypted
        assert secret not in row.channel
        assert row.channel.startswith(url[:4])


async def test_recording_again_adds_only_the_jobs_not_queued_yet(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [job("k1", HOOK), job("k2", HOOK)])
    repeat = IncidentChange("inc-1", "updated", "rule:smoke-inc-1", later(30), {"n": 2})

    queued = await outbox.record(repeat, {"count": 2}, [job("k2", HOOK), job("k3", HOOK)])

    assert queued == ["k3"]
    assert sorted(await states(db)) == ["k1", "k2", "k3"]
    async with db.session() as session:
        incident = await session.get(IncidentRow, "inc-1")
    assert incident is not None
    assert (incident.count, incident.updated_at, incident.created_at) == (2, later(30), T0)
    assert [h.action for h in await history(db)] == ["triggered", "updated"]


async def test_a_change_that_fails_leaves_no_trace(db: Database, outbox: Outbox) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [])
    clash, clash_fields = opening("inc-2", dedup_key=fields["dedup_key"])

    with pytest.raises(IntegrityError):
        await outbox.record(clash, clash_fields, [job("k9", HOOK, incident_id="inc-2")])
    with pytest.raises(ValueError, match="colour"):
        await outbox.record(clash, {**clash_fields, "colour": "red"}, [])
    with pytest.raises(LookupError):
        await outbox.record(IncidentChange("inc-3", "updated", None, T0), None, [])

    assert await states(db) == {}
    assert await history(db, "inc-2") == []
    async with db.session() as session:
        assert list(await session.scalars(select(IncidentRow.id))) == ["inc-1"]


async def test_acknowledging_cancels_the_later_steps_in_the_same_transaction(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    steps = [
        job("step0", HOOK),
        job("step1", HOOK, not_before=later(300)),
        job("step2", HOOK, not_before=later(600)),
    ]
    await outbox.record(change, fields, steps)
    ack = IncidentChange("inc-1", "acknowledged", "user:rini", later(60))
    ack_fields = {
        "state": IncidentState.ACKNOWLEDGED,
        "acknowledged_at": later(60),
        "acknowledged_by": "user:rini",
    }

    await outbox.record(ack, ack_fields, [], cancel_pending_for="inc-1")

    rows = await job_rows(db)
    assert {key: row.state for key, row in rows.items()} == {
        "step0": "pending",  # already due: delivered all the same
        "step1": "cancelled",
        "step2": "cancelled",
    }
    assert rows["step1"].last_error == "cancelled: acknowledged"
    await outbox.record(IncidentChange("inc-1", "escalated", "hub", later(61)), None, [])
    assert await outbox.cancel_pending("inc-1", "resolved", at=later(62)) == 0


async def test_a_claimed_job_is_leased_and_claimed_again_when_its_lease_runs_out(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [job("k1", HOOK), job("k2", HOOK)])

    claimed = await outbox.due(T0, 10)
    assert [(c.idempotency_key, c.attempts, c.channel_url) for c in claimed] == [
        ("k1", 1, HOOK),
        ("k2", 1, HOOK),
    ]
    assert HOOK not in repr(claimed[0])
    assert await outbox.due(later(5), 10) == []  # leased
    assert (await job_rows(db))["k1"].lease_until == T0 + outbox.lease

    # The worker died with both: once the lease is over, they are due again.
    again = await outbox.due(T0 + outbox.lease, 1)
    assert [(c.idempotency_key, c.attempts) for c in again] == [("k1", 2)]

    await outbox.release(again[0].id, later(100))
    row = (await job_rows(db))["k1"]
    assert (row.state, row.attempts, row.next_attempt_at, row.lease_until) == (
        "pending",
        1,
        later(100),
        None,
    )
    assert await outbox.next_due_at(later(20)) == later(100)


async def test_a_job_waits_for_its_not_before(db: Database, outbox: Outbox) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [job("later", HOOK, not_before=later(300))])

    assert await outbox.due(later(299), 10) == []
    assert await outbox.next_due_at(T0) == later(300)
    assert [c.idempotency_key for c in await outbox.due(later(300), 10)] == ["later"]


async def test_results_retry_give_up_or_deliver(db: Database, outbox: Outbox) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [job("a", HOOK), job("b", HOOK), job("c", HOOK)])
    ids = {c.idempotency_key: c.id for c in await outbox.due(T0, 10)}

    retry = AttemptResult(False, later(1), error="FAILURE: refused", retry_at=later(6))
    assert await outbox.finish(ids["a"], retry) == JobState.PENDING
    assert await outbox.finish(ids["b"], AttemptResult(False, later(1), "FAILURE: gone")) == (
        JobState.FAILED
    )
    assert await outbox.finish(ids["c"], AttemptResult(True, later(1))) == JobState.DELIVERED
    assert await outbox.finish(ids["c"], AttemptResult(False, later(2))) == JobState.DELIVERED

    rows = await job_rows(db)
    assert (rows["a"].state, rows["a"].next_attempt_at, rows["a"].last_error) == (
        "pending",
        later(6),
        "FAILURE: refused",
    )
    assert (rows["b"].state, rows["b"].lease_until) == ("failed", None)
    assert (rows["c"].state, rows["c"].delivered_at) == ("delivered", later(1))
    actions = [(h.action, h.by, h.data.get("idempotency_key")) for h in await history(db)]
    assert actions[1:] == [("notification_failed", "hub", "b"), ("notified", "hub", "c")]
    assert await outbox.counts() == {JobState.PENDING: 1, JobState.FAILED: 1, JobState.DELIVERED: 1}


async def test_a_failover_chain_goes_in_priority_order_and_stops_at_the_first_delivery(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    chain = [
        job(f"p{priority}", HOOK, priority=priority, failover_group="damkar:inc-1")
        for priority in (2, 0, 1)
    ]
    await outbox.record(change, fields, [*chain, job("other", HOOK)])

    first = await outbox.due(T0, 10)
    assert sorted(c.idempotency_key for c in first) == ["other", "p0"]
    p0 = next(c for c in first if c.idempotency_key == "p0")
    # While p0 is being sent, nothing else of its chain is due.
    assert await outbox.due(later(1), 10) == []

    failed = AttemptResult(False, later(1), error="FAILURE", retry_at=later(5))
    await outbox.finish(p0.id, failed)
    second = await outbox.due(later(2), 10)
    assert [c.idempotency_key for c in second] == ["p1"]

    await outbox.finish(second[0].id, AttemptResult(True, later(3)))

    assert await states(db) == {
        "p0": "superseded",
        "p1": "delivered",
        "p2": "superseded",
        "other": "sending",
    }
    assert await outbox.due(later(9), 10) == []  # p0's retry is off: superseded


async def test_a_failure_after_a_sibling_got_through_is_superseded(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    chain = [job(f"p{p}", HOOK, priority=p, failover_group="g") for p in (0, 1)]
    await outbox.record(change, fields, chain)
    p0 = (await outbox.due(T0, 10))[0]
    await outbox.finish(p0.id, AttemptResult(False, later(1), "x", retry_at=later(2)))
    p1 = (await outbox.due(later(1), 10))[0]
    p0_again = (await outbox.due(later(2), 10))[0]

    await outbox.finish(p1.id, AttemptResult(True, later(3)))
    assert await outbox.finish(p0_again.id, AttemptResult(False, later(4), "x", later(9))) == (
        JobState.SUPERSEDED
    )


async def test_claimers_at_the_same_time_never_get_the_same_job(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    await outbox.record(change, fields, [job(f"k{i:02}", HOOK) for i in range(24)])

    batches = await asyncio.gather(*(outbox.due(T0, 8) for _ in range(4)))

    keys = [c.idempotency_key for batch in batches for c in batch]
    assert len(keys) == len(set(keys)) == 24


async def test_attachments_in_use_are_those_of_unfinished_jobs(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    await outbox.record(
        change,
        fields,
        [job("a", HOOK, attachment="/spool/a.jpg"), job("b", HOOK, attachment="/spool/b.jpg")],
    )
    b = next(c for c in await outbox.due(T0, 10) if c.idempotency_key == "b")
    await outbox.finish(b.id, AttemptResult(True, later(1)))

    assert await outbox.attachments_in_use() == {"/spool/a.jpg"}


def test_a_channel_is_described_without_its_secrets() -> None:
    bot = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    telegram = f"tgram://{bot}/-1001234567"
    for url, secret in ((HOOK, TOKEN), (MAIL, MAIL_PASSWORD), (telegram, bot)):
        shown = describe_channel(url)
        assert secret not in shown
        assert "AAHdqTcv" not in shown
    assert describe_channel("nosuchservice://x") == "nosuchservice://(invalid)"
    # Telegram is paced per chat by default; the key names the chat, never the bot's token.
    assert default_rate_key(telegram) == "tgram:-1001234567"
    assert default_rate_key(HOOK) is None


async def test_a_rate_key_gives_out_its_jobs_one_at_a_time_in_order(
    db: Database, outbox: Outbox
) -> None:
    change, fields = opening()
    chat = [job(f"chat-{i}", HOOK, rate_key="tgram:-100") for i in range(3)]
    await outbox.record(change, fields, [*chat, job("free", HOOK)])

    # No room on the chat's key: its jobs stay where they are.
    skipped = await outbox.due(T0, 10, skip_rate_keys=["tgram:-100"])
    assert [c.idempotency_key for c in skipped] == ["free"]
    # Room for ten, but a chat gets one message at a time, the first in its line.
    first = await outbox.due(T0, 10)
    assert [c.idempotency_key for c in first] == ["chat-0"]
    assert await outbox.due(T0, 10) == []

    await outbox.release(first[0].id)  # handed back unsent: still first in line
    again = await outbox.due(T0, 10)
    assert [(c.idempotency_key, c.attempts) for c in again] == [("chat-0", 1)]
    await outbox.finish(again[0].id, AttemptResult(True, later(1)))
    assert [c.idempotency_key for c in await outbox.due(later(1), 10)] == ["chat-1"]
