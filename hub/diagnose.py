"""`pantau diagnose`: one JSON document about this hub that can be sent to a developer safely.

It holds versions (Pantau, Python, PyAV, FFmpeg), the platform, the configuration, the plugins
and their states, the camera registry, the store's migration, the running hub's health, and
the last lines of a log file. Every secret is replaced by `***` wherever it was: a secret is
shown to exist, never what it is. The secrets are the configuration's (camera passwords,
channel URLs, the database password, `!secret` values), the credential keys, the admin token,
the registry's camera passwords, credentials in URLs and URL parameters named like secrets,
and values under keys named like secrets. Before the document is written it is searched for
every one of them once more, and refused if one is still there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import re
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import __version__
from hub.config import Config, secret_values
from hub.logs import SecretRedactor, names_secret

log = logging.getLogger(__name__)

LOG_LINES = 500
"""How many of a log file's last lines a dump holds unless told otherwise."""
HUB_TIMEOUT = 3.0
"""Seconds to wait for the running hub's answers."""
HIDDEN = "***"

_URL_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;][^=&\s#]*(?:token|pass|pwd|secret|key|auth|sig|signature|session)"
    r"[^=&\s#]*=)(?P<value>[^&\s#\"']+)",
    re.IGNORECASE,
)
_SECRET_ENV = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|DATABASE|DSN|URL", re.IGNORECASE)


class SecretLeft(Exception):
    """The dump still held a secret after redaction: nothing was written."""


class Scrubber:
    """Hides the secrets it was given, credentials in URLs, and values of secret-named keys."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = {value for value in secrets if value and len(value) >= 4}
        self._redactor = SecretRedactor()
        self._redactor.add(self.secrets)

    def text(self, value: str) -> str:
        """`value` with every secret, URL credential and secret URL parameter hidden."""
        value = self._redactor.redact(value)
        return _URL_SECRET_PARAMETER.sub(lambda m: m["name"] + HIDDEN, value)

    def data(self, value: Any, key: str | None = None) -> Any:
        """A JSON-ready copy of `value`, scrubbed throughout."""
        hideable = isinstance(value, str | Mapping | list | tuple) and len(value) > 0
        if key is not None and hideable and names_secret(key):
            return HIDDEN  # a flag such as `has_password` says nothing secret and stays
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(item, str(k)) for k, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.data(item) for item in value]
        if isinstance(value, str):
            return HIDDEN if set(value) == {"*"} else self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))

    def check(self, document: str) -> None:
        """Raise SecretLeft if `document` (the JSON to write) still holds a known secret."""
        for secret in self.secrets:
            escaped = json.dumps(secret)[1:-1]
            if secret in document or escaped in document:
                raise SecretLeft(
                    "the diagnostics still held a secret after redaction, so nothing was "
                    "written; please report this as a bug (without the dump)"
                )


def versions() -> dict[str, Any]:
    """Pantau's, Python's, PyAV's and FFmpeg's versions, and the platform."""
    found: dict[str, Any] = {
        "pantau": __version__,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        import av

        found["pyav"] = av.__version__
        found["ffmpeg"] = {
            name: ".".join(str(part) for part in version)
            for name, version in av.library_versions.items()
        }
        found["ffmpeg_build"] = getattr(av, "ffmpeg_version_info", None)
    except Exception as exc:  # a broken PyAV is what a developer wants to hear about
        found["pyav"] = f"not importable: {type(exc).__name__}: {exc}"
    return found


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The PANTAU_* variables that are set; the values of secret ones hidden."""
    return {
        name: HIDDEN if _SECRET_ENV.search(name) else value
        for name, value in sorted(environ.items())
        if name.startswith("PANTAU_")
    }


def _keys(config: Config, environ: Mapping[str, str]) -> tuple[list[str], dict[str, Any]]:
    """The credential keys (to hide) and what may be said of them: where, and how many."""
    from hub.credentials import ENV_VAR, KEY_FILE, split_keys

    given = split_keys(environ.get(ENV_VAR, ""))
    if given:
        return given, {"source": ENV_VAR, "count": len(given)}
    path = Path(config.hub.data_dir) / KEY_FILE
    try:
        keys = split_keys(path.read_text(encoding="ascii"))
    except OSError:
        return [], {"source": str(path), "exists": False}
    return keys, {"source": str(path), "exists": True, "count": len(keys)}


async def _store(config: Config, keys: list[str]) -> tuple[dict[str, Any], set[str]]:
    """The store's migration, owners and cameras, and the registry's passwords (to hide).

    A store at another migration than this Pantau's is not upgraded, only reported.
    """
    from alembic.script import ScriptDirectory
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from hub.credentials import CredentialBox
    from hub.registry import Registry
    from hub.store import Database, alembic_config

    url = config.hub.database_url_value()
    parsed = make_url(url)
    found: dict[str, Any] = {
        "url": parsed.render_as_string(hide_password=True),
        "dialect": parsed.get_backend_name(),
        "head": ScriptDirectory.from_config(alembic_config()).get_current_head(),
    }
    passwords: set[str] = set()
    sqlite_file = (
        Path(parsed.database) if found["dialect"] == "sqlite" and parsed.database else None
    )
    if sqlite_file is not None and not await asyncio.to_thread(sqlite_file.exists):
        found["revision"] = None
        found["problem"] = "no store yet: the hub makes it on its first start"
        return found, passwords
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            found["revision"] = next(iter(rows.scalars()), None)
    except Exception as exc:
        found["revision"] = None
        found["problem"] = f"cannot read the store: {type(exc).__name__}: {exc}"
        return found, passwords
    finally:
        await engine.dispose()
    if found["revision"] != found["head"]:
        found["problem"] = (
            f"the store is at migration {found['revision']}, this Pantau at {found['head']}: "
            "the registry is not read (the hub migrates the store when it starts)"
        )
        return found, passwords
    database = Database(url)
    await database.start()
    try:
        registry = Registry(database, CredentialBox(keys) if keys else None)
        found["owners"] = [owner.as_dict() for owner in await registry.list_owners()]
        cameras = await registry.list_cameras()
        found["cameras"] = [camera.as_dict() for camera in cameras]
        if keys:
            for camera in cameras:
                try:
                    password = await registry.camera_password(camera.id)
                except Exception:  # noqa: S112 - an undecryptable one cannot leak either
                    continue
                if password:
                    passwords.add(password)
    finally:
        await database.close()
    return found, passwords


async def _running_hub(config: Config, token: str | None) -> dict[str, Any]:
    """The running hub's health and plugins, if it answers at its address."""
    import aiohttp

    base = config.hub.web.base_url()
    found: dict[str, Any] = {"address": base}
    timeout = aiohttp.ClientTimeout(total=HUB_TIMEOUT)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
            async with http.get(f"{base}/api/health") as answer:
                found["health"] = await answer.json(content_type=None)
            if token:
                async with http.get(f"{base}/api/plugins") as answer:
                    if answer.status == 200:
                        found["plugins"] = (await answer.json())["plugins"]
                    else:
                        found["plugins_problem"] = f"the hub answered {answer.status}"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        found["reachable"] = False
        found["problem"] = f"no answer ({type(exc).__name__}): is `pantau run` running?"
        return found
    found["reachable"] = True
    return found


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a text file (read as UTF-8, undecodable bytes replaced)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for line in deque(handle, maxlen=count)]


async def collect(
    config: Config,
    *,
    config_path: Path | None = None,
    log_file: Path | None = None,
    lines: int = LOG_LINES,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], Scrubber]:
    """Everything the dump holds, scrubbed, and the scrubber (to check the written text)."""
    from hub.plugins import PluginHost
    from hub.web.auth import read_admin_token

    environ = os.environ if environ is None else environ
    data_dir = Path(config.hub.data_dir)
    keys, key_facts = _keys(config, environ)
    token = read_admin_token(data_dir, environ)
    store, passwords = await _store(config, keys)
    secrets = secret_values(config) | set(keys) | passwords
    secrets |= {value for name, value in environ.items() if _SECRET_ENV.search(name)}
    if token:
        secrets.add(token)
    scrub = Scrubber(secrets)
    host = PluginHost(
        options={name: dict(opts) for name, opts in config.plugins.items()},
        plugin_dir=config.hub.plugin_dir,
        safe_mode=config.hub.safe_mode,
        data_dir=data_dir,
    )
    host.load()
    document: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(),
        "versions": versions(),
        "environment": _environment(environ),
        "config": {
            "file": str(config_path) if config_path else None,
            "secrets": len(secret_values(config)),
            "document": config.model_dump(mode="json"),
        },
        "credential_keys": key_facts,
        "admin": {"token_exists": token is not None},
        "plugins": [record.as_dict() for record in host.all_records()],
        "store": store,
        "running_hub": await _running_hub(config, token),
    }
    if log_file is not None:
        try:
            document["log"] = {"file": str(log_file), "lines": last_lines(log_file, lines)}
        except OSError as exc:
            document["log"] = {"file": str(log_file), "problem": f"cannot read it: {exc}"}
    else:
        document["log"] = {"problem": "no log file given (--log FILE)"}
    return scrub.data(document), scrub


async def dump(
    config: Config,
    *,
    config_path: Path | None = None,
    log_file: Path | None = None,
    lines: int = LOG_LINES,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The diagnostics as JSON text, checked to hold no known secret (SecretLeft otherwise)."""
    document, scrub = await collect(
        config, config_path=config_path, log_file=log_file, lines=lines, environ=environ
    )
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    scrub.check(text)
    return text
