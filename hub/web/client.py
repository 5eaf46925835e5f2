"""Talking to the running hub from the `pantau` command: its address, the admin token, errors."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.config import Config
from hub.web.auth import ENV_VAR, TOKEN_FILE, read_admin_token

MIN_PREFIX = 4
"""Characters of an incident id that are enough to name it, when they name only one."""


class HubError(Exception):
    """The hub could not do what was asked; the message says why, `exit_code` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(method, url, json=body) as response:
        try:
            data = await response.json(content_type=None)
        except ValueError:
            data = {"error": f"the hub answered {response.status} without JSON"}
        return response.status, data


async def change_incident(
    config: Config, incident_id: str, action: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST `/api/incidents/{id}/{action}` to the hub `config` describes; its answer."""
    data_dir = config.hub.data_dir
    token = read_admin_token(data_dir)
    if token is None:
        raise HubError(
            f"no admin token: neither {ENV_VAR} nor {data_dir / TOKEN_FILE} "
            "(the hub makes the file on its first start)"
        )
    base = config.hub.web.base_url()
    timeout = aiohttp.ClientTimeout(total=15)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            if len(incident_id) < 32:
                incident_id = await _full_id(session, base, incident_id)
            status, answer = await _call(
                session, "POST", f"{base}/api/incidents/{incident_id}/{action}", body
            )
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise HubError(
            f"cannot reach the hub at {base} ({type(exc).__name__}): is `pantau run` running? "
            "Incidents change only through the running hub, which owns their escalation."
        ) from None
    if status != 200:
        message = answer.get("error") if isinstance(answer, dict) else None
        raise HubError(message or f"the hub answered {status}", 2 if status == 404 else 1)
    return dict(answer)


async def _full_id(session: aiohttp.ClientSession, base: str, prefix: str) -> str:
    if len(prefix) < MIN_PREFIX:
        raise HubError(f"give at least {MIN_PREFIX} characters of the incident id", 2)
    status, answer = await _call(session, "GET", f"{base}/api/incidents?limit=1000")
    if status != 200:
        raise HubError(answer.get("error") or f"the hub answered {status}")
    found = [item["id"] for item in answer["incidents"] if item["id"].startswith(prefix)]
    if not found:
        raise HubError(f"no incident whose id starts with {prefix!r}", 2)
    if len(found) > 1:
        raise HubError(f"{len(found)} incidents start with {prefix!r}: give more characters", 2)
    return str(found[0])
