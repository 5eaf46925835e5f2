"""The web pages: sign-in, an invited owner's first visit, the owner's console and the map.

Each page is a static HTML shell from `static/` and a plain JS module that talks to the JSON
API; nothing about the caller is written into the HTML, so a page cannot leak what its API
would refuse. Pages declare what they need like API routes; a browser that is not signed in
is sent to /login (and back afterwards), while other clients get the API's 401.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from hub.web.auth import ACCESS_ATTRIBUTE, Access, Handler, needs, principal_of
from hub.web.keys import hub_key

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
"""Scripts, styles and pictures from the hub itself only: no inline script, no CDN."""

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # an invitation's token is in its page's address
    "Cache-Control": "no-store",
}
_ASSET = re.compile(r"[a-z0-9][a-z0-9-]*\.(?:css|js|svg)")
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
_TITLES = {
    "id": {"login": "Masuk", "invite": "Undangan", "owner": "Konsol pemilik", "map": "Peta"},
    "en": {"login": "Sign in", "invite": "Invitation", "owner": "Owner console", "map": "Map"},
}
_REFUSED = {
    "id": ("Tidak diizinkan", "Halaman ini tidak tersedia untuk peran Anda.", "Awal"),
    "en": ("Not allowed", "This page is not available to your role.", "Home"),
}


def _wants_html(request: web.Request) -> bool:
    """Whether a browser asked for the page (it sends Accept: text/html on navigation)."""
    return "text/html" in request.headers.get("Accept", "")


def _language(request: web.Request) -> str:
    return request.app[hub_key].config.hub.language


def page(access: Access) -> Callable[[Handler], Handler]:
    """`needs(access)` for a page: a browser without a session goes to /login, then back."""

    def wrap(handler: Handler) -> Handler:
        guarded = needs(access)(handler)

        @functools.wraps(handler)
        async def served(request: web.Request) -> web.StreamResponse:
            answer = await guarded(request)
            if not _wants_html(request):
                return answer
            if answer.status == 401:
                target = quote(request.path_qs, safe="/")
                raise web.HTTPSeeOther(f"/login?next={target}", headers=_HEADERS)
            if answer.status == 403:
                return _refusal(request)
            return answer

        setattr(served, ACCESS_ATTRIBUTE, access)
        return served

    return wrap


def render(request: web.Request, name: str, status: int = 200) -> web.Response:
    """The page `name` (static/<name>.html) in the hub's language, with the hub's name."""
    language = _language(request)
    text = (STATIC / f"{name}.html").read_text(encoding="utf-8")
    hub_name = escape(request.app[hub_key].config.hub.name)
    title = escape(_TITLES[language][name])
    text = text.replace("{{lang}}", language).replace("{{hub}}", hub_name)
    text = text.replace("{{title}}", title)
    return web.Response(text=text, content_type="text/html", status=status, headers=_HEADERS)


def _refusal(request: web.Request, status: int = 403) -> web.Response:
    title, sentence, back = _REFUSED[_language(request)]
    body = (
        f'<!doctype html><html lang="{_language(request)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/pantau.css"></head>'
        f'<body><main class="narrow"><h1>{title}</h1><p>{sentence}</p>'
        f'<p><a href="/">{back}</a></p></main></body></html>'
    )
    return web.Response(text=body, content_type="text/html", status=status, headers=_HEADERS)


@page(Access.SIGNED_IN)
async def home(request: web.Request) -> web.Response:
    """`GET /`: an owner's user to its console, the command center to the map."""
    caller = principal_of(request)
    if caller.owner is not None and caller.may(Access.CAMERAS_WRITE):
        raise web.HTTPSeeOther("/owner", headers=_HEADERS)
    if caller.may(Access.CAMERAS_READ):
        raise web.HTTPSeeOther("/map", headers=_HEADERS)
    return _refusal(request, 200)  # a responder: its incidents reach it as alerts


@page(Access.PUBLIC)
async def login(request: web.Request) -> web.Response:
    """`GET /login`: the sign-in form; it posts to /api/login and goes on to `?next=`."""
    return render(request, "login")


@page(Access.PUBLIC)
async def invite(request: web.Request) -> web.Response:
    """`GET /invite/{token}`: an invited owner sets a password and lands in its console."""
    return render(request, "invite")


@page(Access.CAMERAS_WRITE)
async def owner_console(request: web.Request) -> web.Response:
    """`GET /owner`: an owner's sites, cameras, tests and sharing levels."""
    return render(request, "owner")


@page(Access.CAMERAS_READ)
async def camera_map(request: web.Request) -> web.Response:
    """`GET /map`: the cameras the caller may see, placed by position and coloured by health."""
    return render(request, "map")


@needs(Access.PUBLIC)
async def asset(request: web.Request) -> web.Response:
    """`GET /static/{asset}`: the pages' styles and scripts (nothing secret: code only)."""
    name = request.match_info["asset"]
    path = STATIC / name
    if not _ASSET.fullmatch(name) or not path.is_file():
        raise web.HTTPNotFound(text=f"no file {name!r} among the pages' files")
    headers = {**_HEADERS, "Cache-Control": "no-cache"}
    return web.Response(body=path.read_bytes(), content_type=_TYPES[path.suffix], headers=headers)


def add_page_routes(app: web.Application) -> None:
    """Mount the pages and their files."""
    app.router.add_get("/", home)
    app.router.add_get("/login", login)
    app.router.add_get("/invite/{token}", invite)
    app.router.add_get("/owner", owner_console)
    app.router.add_get("/map", camera_map)
    app.router.add_get("/static/{asset}", asset)
