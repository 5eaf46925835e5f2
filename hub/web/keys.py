"""The application's keys, apart so that every route module can import them."""

from __future__ import annotations

from aiohttp import web

from hub.runtime import Hub

hub_key = web.AppKey("hub", Hub)
