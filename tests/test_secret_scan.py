"""The whole-run secret scan: a planted leak fails the run without showing the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANTED = "Bocor-Rahasia-8817"
MINTED = "pantau_" + "x" * 43

LEAKY = f'''
import logging
from pathlib import Path

from tests.secret_scan import register_secret, scan_file

CAMERA_PASSWORD = "Tetap-Rahasia-5521"  # a module constant: harvested, searched for


def test_logs_a_registered_secret():
    logging.getLogger("hub.leaky").debug("connected with %s", register_secret("{PLANTED}"))


def test_logs_a_token_and_a_header():
    log = logging.getLogger("plugins.chatty")
    log.info("token %s", "{MINTED}")
    log.warning("sent headers {{'Authorization': 'Bearer abcdef123456'}}")


def test_logs_a_module_secret_in_an_exception():
    try:
        raise ValueError("refused " + CAMERA_PASSWORD)
    except ValueError:
        logging.getLogger("hub.boom").exception("could not connect")


def test_a_subprocess_log_file(tmp_path):
    (tmp_path / "hub.log").write_text("GET rtsp://admin:Sandi-Berkas-31@cam/1\\n")


def test_an_explicit_file(tmp_path):
    path = tmp_path / "worker.txt"
    path.write_text("url http://h/x?password=Sandi-Parameter-9 end\\n")
    scan_file(path)
'''

CLEAN = """
import logging

from tests.secret_scan import register_secret


def test_logs_only_what_may_be_logged(tmp_path):
    register_secret("Bersih-Rahasia-4242")
    log = logging.getLogger("hub.clean")
    log.info("camera offline: rtsp://***@10.0.0.5/ch1, Authorization: Bearer ***")
    log.debug("token 3f9a1c0b2d4e used by mall-it")
    (tmp_path / "hub.log").write_text("INFO serving on http://127.0.0.1:8123\\n")
"""


def run_pytest(tmp_path: Path, source: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run pytest with the scan on one test file, in a folder of its own."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_sample.py").write_text(source, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(  # noqa: S603 - our own test run
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.secret_scan",
            "-p",
            "no:cacheprovider",
            *options,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_planted_leak_fails_the_run_and_names_where_not_what(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, LEAKY)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # each test passes, then fails in its teardown, where the scan names it
    assert "5 passed, 5 errors" in output
    assert "secret scan: secrets in log lines" in output
    for expected in (
        "test_sample.py::test_logs_a_registered_secret: logger hub.leaky wrote a secret "
        "registered at run time",
        "test_sample.py::test_logs_a_token_and_a_header: logger plugins.chatty wrote an API "
        "token (pantau_...)",
        "test_sample.py::test_logs_a_token_and_a_header: logger plugins.chatty wrote an "
        "Authorization header's value",
        "test_sample.py::test_logs_a_module_secret_in_an_exception: logger hub.boom wrote "
        "test_sample.CAMERA_PASSWORD",
        "test_sample.py::test_a_subprocess_log_file: file hub.log wrote a password in a URL",
        "test_sample.py::test_an_explicit_file: file worker.txt wrote a password= parameter",
    ):
        assert expected in output, output
    for secret in (PLANTED, MINTED, "abcdef123456", "Sandi-Berkas-31", "Sandi-Parameter-9"):
        assert secret not in output


def test_a_clean_run_passes(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, CLEAN)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "secret scan" not in output


def test_a_leak_fails_a_run_split_over_processes(tmp_path: Path) -> None:
    # pytest-xdist sends back only test reports: the leaking tests must fail themselves
    result = run_pytest(tmp_path, LEAKY, "-n", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "5 errors" in output
    assert "secret scan: logger hub.leaky wrote a secret registered at run time" in output
    for secret in (PLANTED, MINTED, "abcdef123456", "Sandi-Berkas-31", "Sandi-Parameter-9"):
        assert secret not in output
