"""The delivery worker against real receivers: webhooks over HTTP, e-mail over SMTP."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.incidents.delivery import Backoff, DeliveryWorker, RateLimit, _Bucket
from hub.incidents.outbox import Outbox
from hub.incidents.spool import Spool
from hub.store import Database
from hub.store.models import utcnow
from tests.incidents.conftest import SMTP_PASSWORD, StartWorker
from tests.incidents.outbox_kit import eventually, history, job, job_rows, opening, states
from tests.incidents.receivers import SmtpReceiver, WebhookReceiver, reference_of

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

HOOK_TOKEN = "Tkn7c0ffee5ecret42"


async def _all_in(db: Database, state: str, count: int) -> bool:
    found = await states(db)
    return len(found) == count and set(found.values()) == {state}


async def test_webhooks_get_the_message_its_reference_and_the_snapshot(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    receiver: WebhookReceiver,
    start_worker: StartWorker,
    snapshot_jpeg: bytes,
    tmp_path: Path,
) -> None:
    picture = await Spool(tmp_path / "spool").write(snapshot_jpeg)
    change, fields = opening(at=utcnow())
    jobs = [
        job("inc-1:damkar:json", receiver.url("json", "hook"), attachment=str(picture)),
        job("inc-1:damkar:form", receiver.url("form", "form"), attachment=str(picture)),
    ]
    await sqlite_outbox.record(change, fields, jobs)

    await start_worker(sqlite_outbox)
    await eventually(lambda: _all_in(sqlite_db, "delivered", 2))

    hits = {hit.kind: hit for hit in receiver.hits}
    assert sorted(hits) == ["form", "json"]
    for kind, hit in hits.items():
        assert hit.title == "Smoke at Pasar Kliwon"
        assert hit.message.startswith("Camera pasar-3 sees smoke.\n")
        assert hit.message.splitlines()[-1] == f"ref: inc-1:damkar:{kind}"
        assert list(hit.attachments.values()) == [snapshot_jpeg]
    assert len(receiver.hits) == 2
    assert [h.action for h in await history(sqlite_db)].count("notified") == 2


async def test_a_missing_snapshot_does_not_hold_the_alert_back(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    change, fields = opening(at=utcnow())
    gone = str(tmp_path / "spool" / "pruned-too-early.jpg")
    await sqlite_outbox.record(change, fields, [job("k", receiver.url("json"), attachment=gone)])

    await start_worker(sqlite_outbox)
    await eventually(lambda: _all_in(sqlite_db, "delivered", 1))

    [hit] = receiver.hits
    assert (hit.reference, hit.attachments) == ("k", {})
    assert "is gone; sending without it" in caplog.text


async def test_email_carries_the_snapshot_intact_and_never_the_password(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    smtp: SmtpReceiver,
    start_worker: StartWorker,
    snapshot_jpeg: bytes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    picture = await Spool(tmp_path / "spool").write(snapshot_jpeg)
    change, fields = opening(at=utcnow())
    await sqlite_outbox.record(
        change, fields, [job("inc-1:damkar:mail", smtp.url(), attachment=str(picture))]
    )

    await start_worker(sqlite_outbox)
    await eventually(lambda: _all_in(sqlite_db, "delivered", 1))

    [mail] = smtp.mails
    assert mail.recipients == ["bpbd@pantau.test"]
    assert mail.message["Subject"] == "Smoke at Pasar Kliwon"
    assert mail.text.rstrip().splitlines()[-1] == "ref: inc-1:damkar:mail"
    assert list(mail.attachments.values()) == [snapshot_jpeg]
    assert smtp.logins == [smtp.user]  # it did log in with the password...
    assert SMTP_PASSWORD not in caplog.text  # ...which no log line shows
    row = (await job_rows(sqlite_db))["inc-1:damkar:mail"]
    assert SMTP_PASSWORD not in row.channel
    assert SMTP_PASSWORD not in row.channel_url_encrypted


async def test_a_receiver_down_then_up_gets_everything_and_repeats_carry_their_key(
    db: Database,
    outbox: Outbox,
    start_worker: StartWorker,
) -> None:
    receiver = WebhookReceiver(status=503)  # not listening yet: connection refused
    await receiver.start()
    await receiver.stop()
    change, fields = opening(at=utcnow())
    keys = [f"inc-1:r{i}" for i in range(5)]
    await outbox.record(change, fields, [job(key, receiver.url("json")) for key in keys])
    try:
        await start_worker(outbox)
        await eventually(lambda: _attempted(db, 2))  # refused, and refused again

        await receiver.start()  # up, but answering 503: it sees messages the hub retries
        await receiver.wait_for(5)
        receiver.status = 200
        await eventually(lambda: _all_in(db, "delivered", 5))
    finally:
        await receiver.stop()

    seen = Counter(reference_of(hit.message) for hit in receiver.hits)
    assert set(seen) == set(keys)  # none lost
    accepted = Counter(reference_of(h.message) for h in receiver.hits if h.status == 200)
    assert set(accepted) == set(keys)
    assert max(seen.values()) >= 2  # the 503s were repeated, each with its own key
    rows = await job_rows(db)
    assert all(row.attempts >= 3 for row in rows.values())
    assert all(row.last_error for row in rows.values())


async def _attempted(db: Database, attempts: int) -> bool:
    rows = (await job_rows(db)).values()
    return bool(rows) and all(row.attempts >= attempts for row in rows)


async def test_only_the_failed_job_is_retried(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    receiver: WebhookReceiver,
    start_worker: StartWorker,
) -> None:
    broken = WebhookReceiver(status=500)
    await broken.start()
    try:
        change, fields = opening(at=utcnow())
        await sqlite_outbox.record(
            change,
            fields,
            [job("good", receiver.url("json")), job("bad", broken.url("json"))],
        )
        await start_worker(sqlite_outbox)
        await broken.wait_for(3)

        assert receiver.references() == ["good"]
        assert (await states(sqlite_db))["good"] == "delivered"
        broken.status = 200
        await eventually(lambda: _all_in(sqlite_db, "delivered", 2))
    finally:
        await broken.stop()

    assert receiver.references() == ["good"]
    assert set(broken.references()) == {"bad"}
    rows = await job_rows(sqlite_db)
    assert rows["good"].attempts == 1
    assert rows["bad"].attempts >= 4
    assert rows["bad"].last_error is not None
    assert "500" in rows["bad"].last_error


async def test_a_rate_key_spaces_its_messages_a_second_apart(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    receiver: WebhookReceiver,
    start_worker: StartWorker,
) -> None:
    change, fields = opening(at=utcnow())
    chat = [job(f"chat-{i}", receiver.url("json"), rate_key="tgram:-1001234") for i in range(3)]
    await sqlite_outbox.record(change, fields, [*chat, job("free", receiver.url("json"))])

    await start_worker(sqlite_outbox)
    await eventually(lambda: _all_in(sqlite_db, "delivered", 4))

    arrivals = [hit.at for hit in receiver.hits if hit.reference != "free"]
    assert [hit.reference for hit in receiver.hits if hit.reference != "free"] == [
        "chat-0",
        "chat-1",
        "chat-2",
    ]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    # A job on no rate key does not wait behind the chat.
    free = next(hit.at for hit in receiver.hits if hit.reference == "free")
    assert free < arrivals[1]
    assert all(row.attempts == 1 for row in (await job_rows(sqlite_db)).values())


def test_a_bucket_with_a_burst_lets_that_many_through_then_paces() -> None:
    bucket = _Bucket(RateLimit(per_second=2.0, burst=2), now=0.0)
    for now in (0.0, 0.1):
        assert bucket.wait(now) == 0.0
        bucket.take()
        assert bucket.wait(now) == 0.5  # busy: one send at a time on a key
        bucket.spend(now)
    # Two spent, 0.2 refilled meanwhile: the third waits until a whole token is back.
    assert bucket.wait(0.1) == pytest.approx(0.4)
    assert bucket.wait(0.5) == 0.0


async def test_failover_reaches_the_next_channel_and_supersedes_the_rest(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    receiver: WebhookReceiver,
    start_worker: StartWorker,
) -> None:
    down = WebhookReceiver(status=503)
    await down.start()
    change, fields = opening(at=utcnow())
    chain = [
        job("wa", down.url("json", "whatsapp"), priority=0, failover_group="damkar"),
        job("sms", receiver.url("json", "sms"), priority=1, failover_group="damkar"),
        job("mail", receiver.url("json", "mail"), priority=2, failover_group="damkar"),
    ]
    await sqlite_outbox.record(change, fields, chain)
    try:
        await start_worker(sqlite_outbox)
        await eventually(lambda: _state_is(sqlite_db, "sms", "delivered"))
        await eventually(lambda: _state_is(sqlite_db, "wa", "superseded"))
    finally:
        await down.stop()

    assert await states(sqlite_db) == {"wa": "superseded", "sms": "delivered", "mail": "superseded"}
    assert receiver.references() == ["sms"]
    assert set(down.references()) == {"wa"}


async def _state_is(db: Database, key: str, state: str) -> bool:
    return (await states(db)).get(key) == state


async def test_secrets_never_reach_logs_or_last_error(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    start_worker: StartWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gone_http = WebhookReceiver()
    await gone_http.start()
    await gone_http.stop()
    gone_smtp = SmtpReceiver("hub-sender", SMTP_PASSWORD)
    await gone_smtp.start()
    await gone_smtp.stop()
    change, fields = opening(at=utcnow())
    jobs = [
        job("hook", gone_http.url("json", f"hooks/{HOOK_TOKEN}")),
        job("mail", gone_smtp.url()),
    ]
    await sqlite_outbox.record(change, fields, jobs)

    await start_worker(sqlite_outbox)
    await eventually(lambda: _attempted(sqlite_db, 2))

    rows = await job_rows(sqlite_db)
    assert "Connection error" in (rows["hook"].last_error or "")
    assert "Connection error" in (rows["mail"].last_error or "")
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "could not deliver" in logged
    for secret in (HOOK_TOKEN, SMTP_PASSWORD):
        assert secret not in logged
        for row in rows.values():
            assert secret not in (row.last_error or "")
            assert secret not in row.channel
    assert not [r for r in caplog.records if r.name == "apprise" and r.levelno < logging.WARNING]


async def test_a_job_past_give_up_after_fails_and_is_reported(
    sqlite_db: Database,
    sqlite_outbox: Outbox,
    start_worker: StartWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = WebhookReceiver(status=500)
    await broken.start()
    change, fields = opening(at=utcnow())
    jobs = [job("late", broken.url("json")), job("nonsense", "nosuchservice://x/y")]
    await sqlite_outbox.record(change, fields, jobs)

    # The clock jumps past give_up_after once the webhook has been tried twice, so the test
    # does not hang on how fast a loaded machine makes the first attempt.
    def clock() -> datetime:
        return utcnow() + (timedelta(hours=2) if len(broken.hits) >= 2 else timedelta(0))

    try:
        await start_worker(sqlite_outbox, clock=clock, give_up_after=timedelta(hours=1))
        await eventually(lambda: _all_in(sqlite_db, "failed", 2))
    finally:
        await broken.stop()

    rows = await job_rows(sqlite_db)
    assert rows["nonsense"].attempts == 1  # not an Apprise URL: no use retrying
    assert rows["nonsense"].last_error == "not a valid Apprise URL"
    assert rows["late"].attempts == 2  # retried once, then given up when the clock passed the limit
    failed = [h for h in await history(sqlite_db) if h.action == "notification_failed"]
    assert sorted(h.data["idempotency_key"] for h in failed) == ["late", "nonsense"]
    assert len([r for r in caplog.records if r.message.startswith("gave up delivering")]) == 2


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff, rng = Backoff(), random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(1, 8)]
    assert 4.0 <= delays[0] <= 6.0
    assert 12.0 <= delays[1] <= 18.0
    assert 36.0 <= delays[2] <= 54.0
    assert delays[-1] <= 600.0
    assert delays[-1] >= 480.0


def test_a_worker_refuses_a_lease_shorter_than_its_send_timeout(
    sqlite_outbox: Outbox,
) -> None:
    with pytest.raises(ValueError, match="lease"):
        DeliveryWorker(sqlite_outbox, send_timeout=30.0)


async def test_stop_returns_even_when_the_worker_is_woken_at_that_moment(
    sqlite_outbox: Outbox, start_worker: StartWorker
) -> None:
    worker = await start_worker(sqlite_outbox, poll_interval=30.0)
    await asyncio.sleep(0.2)  # the worker sleeps, waiting to be woken
    change, fields = opening(at=utcnow())

    for attempt in range(3):
        await sqlite_outbox.record(change, fields if attempt == 0 else None, [])  # wakes it
        await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await worker.stop()
        await worker.start()
