"""The API's JSON answers and errors, made one way for every route.

An API answer holds an owner's data (cameras, incidents, audit records, who is signed in), so
every answer and every error says `Cache-Control: no-store`: no browser or proxy keeps it. An
error's body is `{"error": message}`, with further fields beside it where a client needs them.
A handler raises `refused(...)`; where an error is handed back instead of raised (the access
check that wraps handlers, a helper that returns either a result or the refusal), it returns
`error_answer(...)`, the same answer as a Response.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

_dumps = functools.partial(json.dumps, default=str)

# No 413: aiohttp's class for it takes the size limit; ingest returns its 413 (error_answer).
_REFUSALS: dict[int, type[web.HTTPException]] = {
    kind.status_code: kind
    for kind in (
        web.HTTPBadRequest,
        web.HTTPUnauthorized,
        web.HTTPForbidden,
        web.HTTPNotFound,
        web.HTTPConflict,
        web.HTTPGone,
        web.HTTPUnsupportedMediaType,
        web.HTTPUnprocessableEntity,
        web.HTTPTooManyRequests,
        web.HTTPBadGateway,
        web.HTTPServiceUnavailable,
        web.HTTPGatewayTimeout,
    )
}


def answer(
    data: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer that no cache keeps; datetimes and other plain values written as text."""
    return web.json_response(data, status=status, dumps=_dumps, headers=_no_store(headers))


def refused(
    status: int,
    message: str,
    *,
    fields: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.HTTPException:
    """An error to raise: `{"error": message, **fields}` with `status`, kept by no cache."""
    return _REFUSALS[status](
        text=_dumps(_error(message, fields)),
        content_type="application/json",
        headers=_no_store(headers),
    )


def error_answer(
    status: int,
    message: str,
    *,
    fields: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The same error as `refused`, to return where the caller looks at the answer first."""
    return answer(_error(message, fields), status, headers=headers)


def _error(message: str, fields: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"error": message, **(fields or {})}


def _no_store(headers: Mapping[str, str] | None) -> dict[str, str]:
    # Last, so that no caller can let a cache keep an answer by mistake.
    return {**(headers or {}), "Cache-Control": "no-store"}
