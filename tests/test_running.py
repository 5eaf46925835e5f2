"""`pantau run` as an operator starts it: a real process, real HTTP, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Rahasia-Kamera-2026"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_city(tmp_path: Path, port: int) -> Path:
    (tmp_path / "secrets.yaml").write_text(f"gate_password: {SECRET}\n", encoding="utf-8")
    config = tmp_path / "city.yaml"
    config.write_text(
        f"""
hub:
  name: Test City
  web: {{host: 127.0.0.1, port: {port}}}
  data_dir: {tmp_path / "var"}
owners:
  - {{id: dishub, name: Dishub, kind: opd}}
sites:
  - {{id: simpang-4, name: Simpang Empat, owner: dishub, lat: -7.47, lon: 112.43}}
cameras:
  - id: simpang-utara
    name: Simpang utara
    owner: dishub
    site: simpang-4
    url: rtsp://admin:{SECRET}@127.0.0.1:1/Streaming/Channels/102
  - id: gerbang
    name: Gerbang
    owner: dishub
    url: rtsp://127.0.0.1:1/gate
    username: admin
    password: !secret gate_password
""",
        encoding="utf-8",
    )
    return config


def get_json(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - localhost only
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - localhost only
        return json.loads(response.read())


def admin_token(data_dir: Path) -> str:
    """The token the hub made on its first start: /api/health is the only open route."""
    return (data_dir / "admin.token").read_text(encoding="ascii").strip()


def wait_for_health(url: str, proc: subprocess.Popen[str], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hub exited early with {proc.returncode}")
        try:
            return get_json(url)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("hub did not answer /api/health in time")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_health_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    config = write_city(tmp_path, port)
    env = {**os.environ, "PYTHONDEVMODE": "1", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "hub.log"
    # A file, not a pipe: a pipe nobody reads fills up and stalls the hub's logging.
    log_file = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "hub.cli", "--log-level", "DEBUG", "run", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/api/health", proc)
        assert health["status"] == "ok"
        assert health["name"] == "Test City"
        assert health["cameras"] == 2
        token = admin_token(tmp_path / "var")
        with pytest.raises(urllib.error.HTTPError) as refused:
            get_json(f"http://127.0.0.1:{port}/api/plugins")
        assert refused.value.code == 401
        refused.value.close()  # it holds the connection's socket
        plugins = get_json(f"http://127.0.0.1:{port}/api/plugins", token)["plugins"]
        rtsp = next(p for p in plugins if p["name"] == "rtsp")
        assert (rtsp["state"], rtsp["source"], rtsp["kind"]) == ("running", "built-in", "vendor")
        cameras = get_json(f"http://127.0.0.1:{port}/api/cameras", token)
        assert SECRET not in json.dumps(cameras)
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log_file.close()
    stdout = ""
    stderr = log_path.read_text()
    assert proc.returncode == 0, stderr
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"
    for bad in ("Task was destroyed", "Unclosed", "ResourceWarning", "Traceback", "never awaited"):
        assert bad not in stderr, stderr
    assert "stopping" in stderr
    assert SECRET not in stderr + stdout
    assert "plugin=rtsp" in stderr


def test_safe_mode_and_failed_plugin_are_visible(tmp_path: Path) -> None:
    port = free_port()
    config = write_city(tmp_path, port)
    plugin_dir = tmp_path / "custom"
    broken = plugin_dir / "broken_cam"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise RuntimeError('vendor SDK missing')\n")
    (broken / "manifest.toml").write_text('name = "broken_cam"\nversion = "1.0"\nkind = "vendor"\n')
    text = config.read_text().replace("hub:\n", f"hub:\n  plugin_dir: {plugin_dir}\n", 1)
    config.write_text(text)
    listing = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "hub.cli", "plugins", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = next(line for line in listing.splitlines() if line.startswith("broken_cam"))
    assert row.split()[:5] == ["broken_cam", "vendor", "1.0", "folder", "failed"]
    assert "import failed: RuntimeError: vendor SDK missing" in row
    safe = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "hub.cli", "plugins", "--safe-mode", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "broken_cam" not in safe
    assert "rtsp" in safe


def test_demo_config_answers_health(tmp_path: Path) -> None:
    """What `make run` does, in a scratch directory: the demo city comes up and answers."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "hub.cli",
            "run",
            str(ROOT / "examples" / "demo.yaml"),
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/api/health", proc)
        assert health["status"] == "ok"
        assert health["cameras"] == 6
        assert (tmp_path / "var" / "pantau.db").exists()
        # the six Pati sites are live: their scenes render once, then stream like cameras
        deadline = time.monotonic() + 120
        while health["camera_health"].get("online", 0) < 6 and time.monotonic() < deadline:
            time.sleep(1.0)
            health = get_json(f"http://127.0.0.1:{port}/api/health")
        assert health["camera_health"] == {"online": 6}
        token = admin_token(tmp_path / "var")
        cameras = get_json(f"http://127.0.0.1:{port}/api/cameras", token)["cameras"]
        assert {c["vendor"] for c in cameras} == {"sim"}
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
