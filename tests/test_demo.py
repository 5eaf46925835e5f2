"""The demo's promise: `make run` raises an incident from a sim camera and a newcomer sees it.

`test_demo_end_to_end_*` is the demo's end-to-end test: a real `pantau run` process, the terminal
camera's scene rendered and streamed, its scripted black-out caught by the picture checks, the
incident alerted through Apprise to the responder inbox on the same hub. It runs the demo's own
rules, responder and plugins with only the camera that the alert comes from, so that it does not
wait for five other scenes to render; the other tests check that this is what `demo.yaml` says.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import av
import pytest
import yaml
from click.testing import CliRunner

from hub.cli import main
from hub.config.yamlload import load_config
from plugins.sim.scenes import make_scene
from plugins.sim.stage import GOP_SECONDS
from tests.test_running import free_port, wait_for_health

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.yaml"
CAMERA = "terminal-kembangjoyo"
INBOX = "/plugins/inbox/messages"


def test_demo_yaml_passes_pantau_check() -> None:
    result = CliRunner().invoke(main, ["check", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "6 cameras, 1 responders, 2 rules" in result.output


def test_demo_alerts_a_dark_terminal_camera_to_the_inbox_on_its_own_hub() -> None:
    config = load_config(DEMO)
    web = config.hub.web
    assert config.plugins["inbox"]["enabled"] is True
    [responder] = config.responders
    [channel] = responder.channels
    assert channel.url.get_secret_value() == f"json://{web.host}:{web.port}{INBOX}"
    rule = next(rule for rule in config.rules if rule.id == "kamera-gelap")
    assert (rule.kind, rule.responders) == ("camera_tampered", [responder.id])
    assert "black" in rule.tamper_kinds
    camera = next(camera for camera in config.cameras if camera.id == CAMERA)
    assert (camera.vendor, camera.url) == ("sim", "sim://goes_dark")
    assert len({camera.site for camera in config.cameras}) == 6


def test_the_black_out_lasts_for_two_picture_checks() -> None:
    """A `black` tamper needs two blank keyframes in a row; T2 takes one every interval or so."""
    config = load_config(DEMO)
    [dark] = make_scene("goes_dark", width=64, height=36).happenings()
    # T2 takes the first keyframe at least `keyframe_interval` after the last one
    spacing = config.hub.streams.keyframe_interval + GOP_SECONDS
    assert dark.end_s - dark.start_s >= 2 * spacing


def demo_with_one_camera(tmp_path: Path, port: int) -> Path:
    """demo.yaml on another port and data folder, with only the camera the alert comes from."""
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["hub"]["web"]["port"] = port
    data["hub"]["data_dir"] = str(tmp_path / "var")
    data["cameras"] = [camera for camera in data["cameras"] if camera["id"] == CAMERA]
    for responder in data["responders"]:
        responder["channels"] = [
            url.replace(":8123/", f":{port}/") for url in responder["channels"]
        ]
    path = tmp_path / "demo.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def inbox_messages(port: int) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}{INBOX}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - localhost only
        found: list[dict[str, Any]] = json.loads(answer.read())["messages"]
        return found


def fetch(port: int, path: str) -> bytes:
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - localhost only
        data: bytes = answer.read()
        return data


@pytest.mark.timeout(180)
def test_demo_end_to_end_a_sim_camera_goes_dark_and_the_alert_reaches_the_inbox(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = demo_with_one_camera(tmp_path, port)
    log_path = tmp_path / "hub.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A file, not a pipe: a pipe nobody reads fills up and stalls the hub's logging.
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "hub.cli", "run", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_health(f"http://127.0.0.1:{port}/api/health", proc)
            started = time.monotonic()
            found: list[dict[str, Any]] = []
            while not found and time.monotonic() - started < 120:
                assert proc.poll() is None, log_path.read_text()
                found = inbox_messages(port)
                time.sleep(1.0)
            assert found, "no alert in the inbox after 120 s:\n" + log_path.read_text()
            alert = found[-1]
            picture = fetch(port, alert["attachments"][0]["url"])
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = log_path.read_text()
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    assert alert["title"] == "[TINGGI] Terminal Kembangjoyo: gambar gelap atau tertutup (black)"
    assert "Lokasi: Terminal Kembangjoyo, https://www.openstreetmap.org/" in alert["body"]
    assert alert["attachments"][0]["image"] is True
    # the snapshot attached is the camera's picture when it went dark
    with av.open(io.BytesIO(picture), "r") as container:
        frame = next(container.decode(video=0))
    assert frame.width == 640
    assert frame.to_ndarray(format="gray").mean() < 20
