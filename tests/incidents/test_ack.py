"""Acknowledging and resolving: the signed link in the alert, the API, and `pantau incidents`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from hub.cli import main
from hub.config import Config
from hub.credentials import CredentialBox
from hub.events import MotionStart
from hub.incidents.acklink import AckLinks
from hub.runtime import Hub
from hub.web import build_app
from hub.web.auth import TOKEN_FILE
from tests.incidents.receivers import WebhookReceiver
from tests.incidents.test_service import Seen, city_data
from tests.test_running import free_port

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
LINK = re.compile(r"Tangani \(acknowledge\): (\S+)")


# -- the link itself ------------------------------------------------------------------------------


def links(*keys: str, valid: float = 3600) -> AckLinks:
    box = CredentialBox(keys=list(keys))
    return AckLinks(box, "https://pantau.patikab.go.id", timedelta(seconds=valid))


def parts(link: str) -> tuple[str, str, str, str]:
    split = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    return split.path.rsplit("/", 1)[1], query["r"], query["e"], query["s"]


def test_a_link_names_the_incident_and_responder_and_checks_out_until_it_expires() -> None:
    key = CredentialBox.generate_key()
    maker = links(key)
    link = maker.link("abc123", "damkar", NOW)
    assert link.startswith("https://pantau.patikab.go.id/ack/abc123?r=damkar&e=")
    incident, responder, expires, signature = parts(link)
    assert maker.check(incident, responder, expires, signature, NOW) is None
    later = NOW + timedelta(seconds=3599)
    assert maker.check(incident, responder, expires, signature, later) is None
    expired = maker.check(incident, responder, expires, signature, NOW + timedelta(hours=1))
    assert expired is not None and expired.startswith("the link expired at 2026-11-24 04:00")


@pytest.mark.parametrize(
    "change",
    ["incident", "responder", "expires", "signature"],
)
def test_a_changed_link_is_refused(change: str) -> None:
    maker = links(CredentialBox.generate_key())
    values = dict(
        zip(
            ("incident", "responder", "expires", "signature"),
            parts(maker.link("abc123", "damkar", NOW)),
            strict=True,
        )
    )
    values[change] = {
        "incident": "abc124",
        "responder": "polres",
        "expires": str(int(values["expires"]) + 86400),
        "signature": values["signature"][:-2] + "AA",
    }[change]
    problem = maker.check(
        values["incident"], values["responder"], values["expires"], values["signature"], NOW
    )
    assert problem == "the link is not genuine (changed, or made by another hub)"


def test_links_survive_a_key_rotation_and_another_hub_cannot_make_them() -> None:
    old, new = CredentialBox.generate_key(), CredentialBox.generate_key()
    link = parts(links(old).link("abc123", "damkar", NOW))
    assert links(new, old).check(*link, NOW) is None  # rotated: the old key still verifies
    assert links(new).check(*link, NOW) is not None  # another hub's key: refused
    assert links(old).check("abc123", "damkar", "soon", "x", NOW) == (
        "the link is incomplete: open it exactly as the alert gave it"
    )


# -- through the running hub ----------------------------------------------------------------------


@dataclass
class Running:
    hub: Hub
    base: str
    token: str
    config_file: Path
    seen: Seen


def config_for(tmp_path: Path, hook: str, port: int) -> dict[str, Any]:
    data = city_data(tmp_path, hook)
    data["hub"]["web"] = {"host": "127.0.0.1", "port": port}
    data["escalation_policies"] = [
        {"id": "naik", "steps": [{"after": "10m", "responders": ["satpol-pp"]}]}
    ]
    data["rules"][0]["escalation"] = "naik"
    return data


@pytest.fixture
async def running(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[Running]:
    port = free_port()
    data = config_for(tmp_path, receiver.url("json", "satpol"), port)
    config_file = tmp_path / "city.yaml"
    config_file.write_text(json.dumps(data), encoding="utf-8")
    hub = Hub(Config.model_validate(data))
    runner = web.AppRunner(build_app(hub))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        token = (tmp_path / "var" / TOKEN_FILE).read_text(encoding="ascii").strip()
        seen = Seen(hub)
        yield Running(hub, f"http://127.0.0.1:{port}", token, config_file, seen)
        await seen.subscription.cancel()
    finally:
        await runner.cleanup()


async def raise_incident(running: Running, receiver: WebhookReceiver) -> tuple[str, str]:
    await running.hub.bus.publish(
        MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"})
    )
    opened = await running.seen.wait("triggered")
    await receiver.wait_for(1)
    match = LINK.search(receiver.hits[0].message)
    assert match is not None, receiver.hits[0].message
    return str(opened.data["incident_id"]), match.group(1)


async def test_the_link_in_the_alert_acknowledges_with_one_button_and_stops_escalation(
    running: Running, receiver: WebhookReceiver
) -> None:
    incident_id, link = await raise_incident(running, receiver)
    assert link.startswith(f"{running.base}/ack/{incident_id}?r=satpol-pp&")
    service = running.hub.incidents
    assert service is not None
    held = service.engine.incident(incident_id)
    assert held is not None and held.next_escalation_at is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:  # what a chat app's link preview does
            assert page.status == 200
            text = await page.text()
        assert "Saya tangani" in text and "triggered" in text and "<form method='post'" in text
        assert service.engine.incident(incident_id).state.value == "triggered"  # type: ignore[union-attr]
        async with http.post(link) as done:
            assert done.status == 200
            assert "Terima kasih, satpol-pp" in await done.text()
        acked = await running.seen.wait("acknowledged")
        assert acked.data["by"] == "satpol-pp (link)"
        held = service.engine.incident(incident_id)
        assert held is not None and held.next_escalation_at is None
        async with http.post(link) as again:
            assert again.status == 409
            assert "sudah ditangani oleh satpol-pp (link)" in await again.text()
        forged = link.replace("r=satpol-pp", "r=polres")
        async with http.get(forged) as refused:
            assert refused.status == 403 and "not genuine" in await refused.text()


async def test_an_expired_link_is_refused(running: Running, receiver: WebhookReceiver) -> None:
    service = running.hub.incidents
    assert service is not None and service.ack_links is not None
    incident_id, _ = await raise_incident(running, receiver)
    old = service.ack_links.link(incident_id, "satpol-pp", datetime.now(UTC) - timedelta(days=2))
    async with aiohttp.ClientSession() as http, http.post(old) as answer:
        assert answer.status == 403 and "expired" in await answer.text()
    assert service.engine.incident(incident_id).state.value == "triggered"  # type: ignore[union-attr]


# Every route's access, for every role and token, is walked in tests/web/test_routes.py.


async def test_the_api_acknowledges_and_resolves_with_the_admin_token(
    running: Running, receiver: WebhookReceiver
) -> None:
    incident_id, _ = await raise_incident(running, receiver)
    headers = {"Authorization": f"Bearer {running.token}"}
    api = f"{running.base}/api/incidents"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(api) as listed:
            assert [i["id"] for i in (await listed.json())["incidents"]] == [incident_id]
        async with http.post(f"{api}/{incident_id}/ack", json={"by": "operator-sari"}) as ack:
            assert ack.status == 200
            assert (await ack.json())["incident"]["acknowledged_by"] == "operator-sari"
        async with http.post(f"{api}/{incident_id}/ack", json={"by": "budi"}) as twice:
            assert twice.status == 409
            assert "already acknowledged by operator-sari" in (await twice.json())["error"]
        body = {"by": "operator-sari", "reason": "gerbang ditutup"}
        async with http.post(f"{api}/{incident_id}/resolve", json=body) as closed:
            assert (await closed.json())["incident"]["state"] == "resolved"
        async with http.post(f"{api}/{'0' * 32}/ack") as unknown:
            assert unknown.status == 404
        async with http.post(f"{api}/{incident_id}/ack", data=b"[1") as bad:
            assert bad.status == 400 and "JSON object" in (await bad.json())["error"]
        async with http.get(f"{api}?state=lost") as wrong:
            assert wrong.status == 400


async def test_the_cli_acknowledges_and_resolves_through_the_running_hub(
    running: Running, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    incident_id, _ = await raise_incident(running, receiver)
    runner = CliRunner()
    config = str(running.config_file)
    ack = await asyncio.to_thread(
        runner.invoke, main, ["incidents", "ack", incident_id[:6], "-c", config, "--by", "sari"]
    )
    assert ack.exit_code == 0, ack.output
    assert ack.stdout.startswith(f"{incident_id[:8]} acknowledged by sari: Gerak di gate")
    assert (await running.seen.wait("acknowledged")).data["by"] == "sari"
    resolved = await asyncio.to_thread(
        runner.invoke, main, ["incidents", "resolve", incident_id, "-c", config]
    )
    assert resolved.exit_code == 0, resolved.output
    assert " resolved by cli:" in resolved.stdout
    unknown = await asyncio.to_thread(
        runner.invoke, main, ["incidents", "ack", "ffff", "-c", config]
    )
    assert unknown.exit_code == 2 and "no incident whose id starts with 'ffff'" in unknown.output


def test_the_cli_says_when_the_hub_is_not_running(tmp_path: Path) -> None:
    data = config_for(tmp_path, "json://127.0.0.1:9/x", free_port())
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / TOKEN_FILE).write_text("t" * 43, encoding="ascii")
    config = tmp_path / "city.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["incidents", "ack", "a" * 32, "-c", str(config)])
    assert result.exit_code == 1
    assert "cannot reach the hub at http://127.0.0.1:" in result.output
    assert "is `pantau run` running?" in result.output and "t" * 43 not in result.output


async def test_after_a_resolve_the_same_thing_in_the_same_bucket_opens_a_new_incident(
    running: Running, receiver: WebhookReceiver
) -> None:
    first, _ = await raise_incident(running, receiver)
    service = running.hub.incidents
    assert service is not None
    assert await service.resolve(first, "operator-sari", "checked: a cat")
    running.seen.events.clear()
    await running.hub.bus.publish(
        MotionStart.create(camera_id="tpa-gerbang", data={"zone": "gate"})
    )
    second = await running.seen.wait("triggered")
    assert second.data["incident_id"] != first  # (it waits for the site's group summary)
    states = {i["id"]: i["state"] for i in await service.outbox.incidents()}
    assert states == {first: "resolved", second.data["incident_id"]: "triggered"}
