"""A pytest plugin: no secret in any log line of the whole test run.

For the whole session a handler on the root logger (at DEBUG, with the hub's own quiet levels
for chatty libraries) looks at every record as the hub would write it: message with its
arguments, exception and stack text and context fields, after the hub's log redactor. It
looks for

- the suite's known test secrets: string constants of test modules named `*PASSWORD`,
  `*SECRET`, `*TOKEN`, `*PASSWD` (harvested when collection ends), the few written inline in
  tests (`INLINE` below), and whatever a test registers with `register_secret(value)` (the
  tokens the hub mints for a test);
- what must never be logged whatever its value: an API token (`pantau_...`), an
  `Authorization` header's value, a password in a URL (`password=...` or `user:pass@`).

Log files that tests' subprocesses write (`pantau run` logging to `tmp_path/hub.log`) are
searched the same way: every `*.log` under a test's `tmp_path` when the test ends, and any
file a test hands to `scan_file(path)`.

A hit records the test's node id, the logger (or file) and what kind of secret it was, never
the secret. At the end of the session the hits are listed and the run fails.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections import Counter
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hub.logs import CONTEXT_FIELDS, redactor

NAMED = re.compile(r"(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN)$")
"""Module constants named so are test secrets (`CAMERA_PASSWORD`, `HOOK_TOKEN`, `SECRET`)."""
SHORTEST = 6
"""Shorter strings are too likely to occur by chance to be searched for."""
INLINE = {
    "Rahasia-Digest-99": "tests/streams/test_rtsp.py digest password",
    "Circle Of Life": "tests/streams/test_rtsp.py RFC 2617 password",
    "Rahasia-Kamera-99": "tests/streams/test_engine.py camera password",
    "Baru-Rahasia-7": "tests/audit/test_recorder.py new camera password",
    "changed-by-the-owner": "tests/test_devices.py changed device password",
    "changed-on-the-camera": "tests/plugins/onvif/test_events.py changed password",
    "Sandi-Baru-Yang-Panjang": "tests/web/test_login.py new password",
    "Bukan-Sandinya-2026": "tests/web/test_login.py wrong password",
    "Tebak-Tebakan-2026": "tests/web/test_login.py guessed password",
    "Hampir-Benar-2026": "tests/web/test_login.py almost-right password",
    "hunter2-hunter2": "tests/audit/test_log.py password in audit details",
}
"""Test secrets written inline in tests rather than as named constants."""
PATTERNS = (
    (re.compile(r"pantau_[A-Za-z0-9_-]{40,}"), "an API token (pantau_...)"),
    (
        re.compile(
            r"authorization['\"]?\s*[:=]\s*['\"]?\s*(?:bearer|basic|digest)\s+(?!\*\*\*)[^\s'\",]+",
            re.IGNORECASE,
        ),
        "an Authorization header's value",
    ),
    (
        re.compile(r"[?&;](?:password|passwd|pass)=(?!\*\*\*)[^&\s'\"#]+", re.IGNORECASE),
        "a password= parameter in a URL",
    ),
    (
        re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?!\*\*\*@)[^/\s@'\"]+@", re.IGNORECASE),
        "a password in a URL (user:password@)",
    ),
)
QUIET = {"alembic": logging.WARNING, "aiosqlite": logging.INFO}
QUIET.update(zeep=logging.INFO, onvif=logging.INFO)
"""What `hub.logs.configure_logging` keeps quiet even at DEBUG: its records are never written."""
LARGEST_FILE = 50 * 1024 * 1024
"""Log files larger than this are searched in their last 50 MiB only."""


@dataclass
class Hit:
    """Where a secret showed: the test, the logger or file, and what kind of secret."""

    test: str
    where: str
    what: str


@dataclass
class SecretScan:
    """The known secrets, the hits so far, and which test is running."""

    known: dict[str, str] = field(default_factory=dict)
    """Secret -> what it is (never shown): its module and name, or how it was registered."""
    hits: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    current: str = "(session start)"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, value: str, what: str) -> None:
        """Search for `value` from now on."""
        if isinstance(value, str) and len(value) >= SHORTEST:
            with self.lock:
                self.known.setdefault(value, what)

    def harvest(self, modules: Iterable[ModuleType]) -> None:
        """Take the secret-named string constants of the suite's modules."""
        for module in modules:
            for name, value in list(vars(module).items()):
                if NAMED.search(name) and isinstance(value, str):
                    self.add(value, f"{module.__name__}.{name}")

    def findings(self, text: str) -> list[str]:
        """What kinds of secret `text` holds (empty when none)."""
        with self.lock:
            known = list(self.known.items())
        found = [what for secret, what in known if secret in text]
        found.extend(label for pattern, label in PATTERNS if pattern.search(text))
        return found

    def check(self, text: str, where: str) -> None:
        """Record a hit for every secret in `text`, written by `where`."""
        for what in self.findings(text):
            with self.lock:
                self.hits[(self.current, where, what)] += 1

    def check_file(self, path: Path) -> None:
        """Search a log file (its last 50 MiB), line by line."""
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - LARGEST_FILE))
                data = handle.read()
        except OSError:
            return
        for line in data.decode("utf-8", errors="replace").splitlines():
            self.check(line, f"file {path.name}")


scan = SecretScan()
for _value, _what in INLINE.items():
    scan.add(_value, _what)


def register_secret(value: str) -> str:
    """Search every later log line for `value` (a token the hub minted for a test); returns it."""
    scan.add(value, "a secret registered at run time")
    return value


def scan_file(path: Path | str) -> None:
    """Search a log file that a subprocess wrote (e.g. `pantau run` into tmp_path)."""
    scan.check_file(Path(path))


class ScanHandler(logging.Handler):
    """Looks at every record as the hub's own handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        """Search the record's written text; never fails the logging call."""
        # a scanner that broke logging would hide the very leak it looks for
        with contextlib.suppress(Exception):
            scan.check(redactor.redact(written(record)), f"logger {record.name}")


def written(record: logging.LogRecord) -> str:
    """Everything of `record` that a log line would show."""
    try:
        parts = [record.getMessage()]
    except Exception:
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info and record.exc_info[0] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    for name in CONTEXT_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            parts.append(str(value))
    return "\n".join(parts)


Wrapped = Generator[None, None, None]

_handler = ScanHandler()
_levels: dict[str, int] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Watch the root logger at DEBUG for the whole session."""
    root = logging.getLogger()
    _levels[""] = root.level
    root.setLevel(logging.DEBUG)
    for name, level in QUIET.items():
        logger = logging.getLogger(name)
        _levels[name] = logger.level
        logger.setLevel(max(level, logger.level))
    root.addHandler(_handler)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Take the secret constants of the collected test modules and the suite's helpers."""
    root = Path(str(session.config.rootpath))
    suite = {id(m): m for m in (getattr(item, "module", None) for item in session.items) if m}
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if source and root in Path(source).parents:
            parts = Path(source).relative_to(root).parts
            if "tests" in parts and "site-packages" not in parts:
                suite[id(module)] = module
    scan.harvest(suite.values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Wrapped:
    """Name the running test in the hits it causes."""
    scan.current = item.nodeid
    try:
        return (yield)
    finally:
        scan.current = "(between tests)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Wrapped:
    """After the test's fixtures are gone, search the log files under its tmp_path.

    A test whose logs held a secret fails in its teardown, so that the failure also reaches a
    run split over processes (pytest-xdist), where only test reports travel back.
    """
    try:
        result = yield
    finally:
        funcargs: dict[str, Any] = getattr(item, "funcargs", None) or {}
        tmp = funcargs.get("tmp_path")
        if isinstance(tmp, Path) and tmp.is_dir():
            for path in sorted(tmp.rglob("*.log")):
                if path.is_file():
                    scan.check_file(path)
    found = sorted(
        f"{where} wrote {what}" for (test, where, what) in scan.hits if test == item.nodeid
    )
    if found:
        pytest.fail("secret scan: " + "; ".join(found) + " (never the secret itself)", False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep a leaking test's captured logs and output out of its report: they hold the secret."""
    report = yield
    if any(test == item.nodeid for (test, _, _) in scan.hits):
        report.sections = [
            (title, text) for title, text in report.sections if not title.startswith("Captured")
        ]
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop watching; a hit fails the run."""
    root = logging.getLogger()
    root.removeHandler(_handler)
    for name, level in _levels.items():
        logging.getLogger(name or None).setLevel(level)
    if scan.hits and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the hits: which test, which logger or file, what kind of secret; never the secret."""
    if not scan.hits:
        return
    reporter = terminalreporter
    reporter.section("secret scan: secrets in log lines", sep="=", red=True, bold=True)
    for (test, where, what), count in sorted(scan.hits.items()):
        times = f" ({count} times)" if count > 1 else ""
        reporter.line(f"{test}: {where} wrote {what}{times}")
    reporter.line(
        f"{sum(scan.hits.values())} log lines held a secret: the run fails. Fix the code that "
        "logs it (never whitelist a secret)."
    )
