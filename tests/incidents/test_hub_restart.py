"""`pantau run` killed with SIGKILL while an alert is on its way: the restarted hub sends it again.

The alert may have arrived once already (the receiver got the request and was still answering);
at-least-once delivery means it comes again, with the same reference, and the outbox ends empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hub.credentials import CredentialBox
from hub.incidents.outbox import JobState, Outbox
from hub.store import Database
from tests.incidents.receivers import WebhookReceiver
from tests.test_running import free_port

TOKEN = "Kunci9Rahasia8Telegram"


def write_city(tmp_path: Path, hook: str) -> Path:
    dead = free_port()  # nothing listens here: the camera is offline from the start
    city = {
        "hub": {
            "name": "Kota Uji",
            "data_dir": str(tmp_path / "var"),
            "web": {"port": free_port()},
        },
        "owners": [{"id": "dishub", "name": "Dinas Perhubungan", "kind": "opd"}],
        "cameras": [
            {
                "id": "simpang-lima",
                "name": "Simpang Lima",
                "owner": "dishub",
                "url": f"rtsp://127.0.0.1:{dead}/live",
            }
        ],
        "responders": [{"id": "dishub-lalin", "name": "Dishub", "channels": [hook]}],
        "rules": [
            {
                "id": "kamera-mati",
                "events": ["camera.offline"],
                "severity": "high",
                "responders": ["dishub-lalin"],
            }
        ],
    }
    path = tmp_path / "city.yaml"
    path.write_text(json.dumps(city), encoding="utf-8")  # JSON is YAML
    return path


def start_hub(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as log_file:  # a file, not a pipe nobody reads
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "hub.cli", "run", str(config)],
            cwd=config.parent,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


async def test_an_alert_on_its_way_when_the_hub_is_killed_is_sent_again(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = write_city(tmp_path, receiver.url("json", f"dishub/{TOKEN}"))
    log_path = tmp_path / "hub.log"
    receiver.delay = 60.0  # the receiver takes the request and keeps the hub waiting
    first = start_hub(config, log_path)
    try:
        await receiver.wait_for(1, within=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    receiver.delay = 0.0
    second = start_hub(config, log_path)
    try:
        await receiver.wait_for(2, within=60)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    references = receiver.references()
    assert references[0] is not None and references[1] == references[0]  # the same alert
    log = log_path.read_text(encoding="utf-8")
    assert "were on their way when the hub stopped: resent" in log
    assert TOKEN not in log
    data_dir = tmp_path / "var"
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'pantau.db'}")
    await db.start()
    try:
        counts = await Outbox(db, CredentialBox.from_environment(data_dir)).counts()
    finally:
        await db.close()
    assert counts.get(JobState.DELIVERED) == 1
    assert not counts.get(JobState.PENDING) and not counts.get(JobState.SENDING)
