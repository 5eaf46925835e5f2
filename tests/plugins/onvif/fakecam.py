"""A camera for tests: a local SOAP server answering with a real device's recorded answers.

It checks WS-Security UsernameToken digests against its password and its own (possibly wrong)
clock, picks the recorded answer by the request body's element name (and service), fills the
`.TEMPLATED` placeholders and its own address in, keeps PullPoint subscriptions with their
termination times, and serves snapshots behind HTTP digest (or basic) auth. RenewResponse and
the NotAuthorized fault are built here from the ONVIF spec: no device recording of them exists.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from lxml import etree

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "onvif"
USER = "operator"
PASSWORD = "Sandi-ONVIF-Rahasia-31"
"""The camera's password: tests check that it never shows up in errors or logs."""
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TT = "http://www.onvif.org/ver10/schema"
SERVICES = {
    "http://www.onvif.org/ver10/device/wsdl": "device",
    "http://www.onvif.org/ver10/media/wsdl": "media",
    "http://www.onvif.org/ver20/media/wsdl": "media2",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
    "http://www.onvif.org/ver10/events/wsdl": "events",
    "http://docs.oasis-open.org/wsn/b-2": "events",
    "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
}
FILE_SERVICES = {
    "device_management": "device",
    "media1": "media",
    "media": "media",
    "media2": "media2",
    "ptz": "ptz",
    "events": "events",
    "imaging": "imaging",
}
NOT_SUPPORTED = FIXTURES / "easy_onvif" / "sunba" / "device_management.Fault.xml"
"""A recorded ActionNotSupported fault: the answer to anything the device did not record."""
UNAUTHENTICATED = {"GetSystemDateAndTime"}
SUBSCRIPTION = "agsh-hd-predator/CreatePullPointSubscriptionResponse.TEMPLATED.xml"
"""The CreatePullPointSubscription answer, unless a test picks another device's."""
_DEVICE_ADDRESS = re.compile(r"http://(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?")
_BLOCK = re.compile(r"\{\{\?[^}]*\}\}(.*?)\{\{\?\}\}", re.DOTALL)


def fault(code: str, subcode: str, reason: str) -> str:
    """A SOAP 1.2 fault as ONVIF devices send them (ONVIF Core, 5.11)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<env:Envelope xmlns:env="{SOAP}" xmlns:ter="http://www.onvif.org/ver10/error">'
        "<env:Body><env:Fault>"
        f"<env:Code><env:Value>env:{code}</env:Value>"
        f"<env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
        "</env:Fault></env:Body></env:Envelope>"
    )


def not_authorized(reason: str = "Sender not Authorized") -> str:
    """The fault a device answers a refused UsernameToken with."""
    return fault("Sender", "ter:NotAuthorized", reason)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(text: str, values: dict[str, str], blocks: bool = True) -> str:
    """A recorded doT template with its placeholders filled and its `{{? }}` blocks kept or not."""
    text = _BLOCK.sub(lambda match: match.group(1) if blocks else "", text)
    for name, value in values.items():
        text = text.replace("{{=" + name + "}}", value)
    return text


@dataclass
class Seen:
    """One request the camera received."""

    operation: str
    service: str | None
    path: str
    body: Any
    authenticated: bool
    at: float = field(default_factory=time.monotonic)

    def text(self, name: str) -> str | None:
        """The text of the first element named `name` (any namespace) in the request body."""
        for element in self.body.iter():
            if isinstance(element.tag, str) and etree.QName(element).localname == name:
                return (element.text or "").strip()
        return None


@dataclass
class Answer:
    """What a custom handler answers."""

    text: str
    status: int = 200


@dataclass
class PullPoint:
    """A subscription the camera keeps."""

    number: int
    expires: float
    alive: bool = True


class FakeCamera:
    """A recorded device behind a local SOAP server on 127.0.0.1."""

    def __init__(
        self,
        *folders: str,
        username: str = USER,
        password: str = PASSWORD,
        clock_offset: float = 0.0,
        snapshot_auth: str = "digest",
    ) -> None:
        self.files: dict[tuple[str | None, str], Path] = {}
        for folder in folders:
            for path in sorted((FIXTURES / folder).glob("*.xml")):
                self._add(path)
        self.username = username
        self.password = password
        self.clock_offset = clock_offset
        """Seconds the camera's clock is ahead of the real one."""
        self.snapshot_auth = snapshot_auth
        self.handlers: dict[str, Callable[[Seen], Answer | None]] = {}
        self.requests: list[Seen] = []
        self.snapshots: list[str] = []
        self.pulls: list[str] = []
        """Scripted PullMessages answers, oldest first; an empty answer when none is left."""
        self.pullpoints: dict[str, PullPoint] = {}
        self.renew_fails = False
        self.grant: float | None = None
        """Seconds granted to subscriptions, instead of what the client asks for."""
        self.subscription_template = SUBSCRIPTION
        self._runner: web.AppRunner | None = None
        self._nonces: set[str] = set()
        self.port = 0

    def _add(self, path: Path) -> None:
        parts = path.name.split(".")
        operation = next((p for p in parts if p.endswith("Response") or p == "Fault"), None)
        if operation is None:
            return  # not a SOAP answer (a WS-Discovery message)
        service = FILE_SERVICES.get(parts[0]) if len(parts) > 2 and parts[0] != operation else None
        self.files[(service, operation.removesuffix("Response"))] = path

    # server

    async def start(self) -> FakeCamera:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._soap)
        app.router.add_get("/{tail:.*}", self._snapshot)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeCamera:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> datetime:
        """The camera's clock."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def seen(self, operation: str) -> list[Seen]:
        return [request for request in self.requests if request.operation == operation]

    # SOAP

    def _authenticated(self, envelope: Any) -> bool:
        token = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username")
        digest = token.findtext(f"{{{WSSE}}}Password") or ""
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = base64.b64encode(
            hashlib.sha1(  # noqa: S324 - WS-Security's UsernameToken digest is SHA-1
                base64.b64decode(nonce) + created.encode() + self.password.encode()
            ).digest()
        ).decode()
        try:
            when = datetime.fromisoformat(created)
        except ValueError:
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        fresh = abs((when - self.now()).total_seconds()) <= 5.0
        return user == self.username and digest == expected and fresh

    async def _soap(self, request: web.Request) -> web.Response:
        envelope = etree.fromstring(await request.read())
        body = envelope.find(f"{{{SOAP}}}Body")
        element = body[0]
        qname = etree.QName(element)
        seen = Seen(
            operation=qname.localname,
            service=SERVICES.get(qname.namespace or ""),
            path=request.path_qs,
            body=element,
            authenticated=self._authenticated(envelope),
        )
        self.requests.append(seen)
        if seen.operation not in UNAUTHENTICATED and not seen.authenticated:
            return self._xml(not_authorized(), 400)
        handler = self.handlers.get(seen.operation)
        answer = handler(seen) if handler is not None else None
        if answer is None:
            answer = await self._builtin(seen)
        return self._xml(answer.text, answer.status)

    def _xml(self, text: str, status: int = 200) -> web.Response:
        text = _DEVICE_ADDRESS.sub(self.address, text)
        return web.Response(
            body=text.encode("utf-8"), status=status, content_type="application/soap+xml"
        )

    def recorded(self, seen: Seen) -> Path | None:
        return self.files.get((seen.service, seen.operation)) or self.files.get(
            (None, seen.operation)
        )

    async def _builtin(self, seen: Seen) -> Answer:
        operation = seen.operation
        if operation == "GetSystemDateAndTime":
            return self._date_and_time(seen)
        if operation == "CreatePullPointSubscription":
            return self._subscribe(seen)
        if operation in ("PullMessages", "Renew", "Unsubscribe"):
            pullpoint = self.pullpoints.get(seen.path)
            if pullpoint is None or not pullpoint.alive or pullpoint.expires < time.monotonic():
                return Answer(fault("Sender", "wsrf-rw:ResourceUnknownFault", "no such"), 400)
            if operation == "Renew":
                return self._renew(seen, pullpoint)
            if operation == "Unsubscribe":
                pullpoint.alive = False
            else:
                return await self._pull(seen)
        path = self.recorded(seen)
        if path is None:
            return Answer(NOT_SUPPORTED.read_text(), 500)
        return Answer(render(path.read_text(), {}))

    def _date_and_time(self, seen: Seen) -> Answer:
        path = self.recorded(seen)
        assert path is not None, "the device has no recorded GetSystemDateAndTime"
        tree = etree.fromstring(path.read_bytes())
        now = self.now()
        utc = next(tree.iter(f"{{{TT}}}UTCDateTime"))
        for name, value in (
            ("Year", now.year),
            ("Month", now.month),
            ("Day", now.day),
            ("Hour", now.hour),
            ("Minute", now.minute),
            ("Second", now.second),
        ):
            next(utc.iter(f"{{{TT}}}{name}")).text = str(value)
        return Answer(etree.tostring(tree, encoding="unicode"))

    def _granted(self, asked: str | None) -> float:
        if self.grant is not None:
            return self.grant
        found = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", asked or "")
        return float(found.group(1)) if found else 60.0

    def _subscribe(self, seen: Seen) -> Answer:
        number = len(self.pullpoints) + 1
        granted = self._granted(seen.text("InitialTerminationTime"))
        path = f"/onvif/pullpoint/{number}"
        template = (FIXTURES / self.subscription_template).read_text()
        now = self.now()
        text = render(
            template,
            {
                "it.hostname": "127.0.0.1",
                "it.port": str(self.port),
                "it.pullPointUrl": path,
                "new Date().toISOString()": iso(now),
                "new Date(Date.now()+5000).toISOString()": iso(now + timedelta(seconds=granted)),
            },
        )
        recorded_path = re.search(r"<wsa5?:Address>http://[^/<]+(/[^<]*)</wsa5?:Address>", text)
        if recorded_path is not None:
            path = recorded_path.group(1)
        self.pullpoints[path] = PullPoint(number, time.monotonic() + granted)
        return Answer(text)

    def _renew(self, seen: Seen, pullpoint: PullPoint) -> Answer:
        if self.renew_fails:
            return Answer(fault("Receiver", "ter:Action", "renew refused"), 500)
        granted = self._granted(seen.text("TerminationTime"))
        pullpoint.expires = time.monotonic() + granted
        now = self.now()
        return Answer(
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<env:Envelope xmlns:env="{SOAP}" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">'
            "<env:Body><wsnt:RenewResponse>"
            f"<wsnt:TerminationTime>{iso(now + timedelta(seconds=granted))}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{iso(now)}</wsnt:CurrentTime>"
            "</wsnt:RenewResponse></env:Body></env:Envelope>"
        )

    async def _pull(self, seen: Seen) -> Answer:
        if self.pulls:
            return Answer(self.pulls.pop(0))
        wanted = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", seen.text("Timeout") or "")
        await asyncio.sleep(min(1.0, float(wanted.group(1)) if wanted else 0.1))
        return Answer(self.messages(blocks=False))

    def messages(self, blocks: bool = True, folder: str = "agsh-hd-predator") -> str:
        """agsh's recorded PullMessagesResponse, with (or without) its motion notifications."""
        template = (FIXTURES / folder / "PullMessagesResponse.TEMPLATED.xml").read_text()
        return render(
            template,
            {
                "it.hostname": "127.0.0.1",
                "it.port": str(self.port),
                "it.pullPointUrl": "/onvif/pullpoint/1",
                "new Date().toISOString()": iso(self.now()),
            },
            blocks=blocks,
        )

    # snapshots

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.snapshots.append(request.path_qs)
        header = request.headers.get("Authorization", "")
        if self.snapshot_auth == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if header == f"Basic {expected}":
                return web.Response(body=JPEG, content_type="image/jpeg")
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})
        if header.startswith("Digest ") and self._digest_ok(request, header):
            return web.Response(body=JPEG, content_type="image/jpeg")
        nonce = secrets.token_hex(8)
        self._nonces.add(nonce)
        challenge = f'Digest realm="cam", qop="auth", nonce="{nonce}", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    def _digest_ok(self, request: web.Request, header: str) -> bool:
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header.removeprefix("Digest ")))
        if fields.get("nonce") not in self._nonces or fields.get("username") != self.username:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - HTTP digest is MD5

        first = md5(f"{self.username}:cam:{self.password}")
        second = md5(f"{request.method}:{fields.get('uri', '')}")
        expected = md5(
            f"{first}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}"
            f":{fields.get('qop', '')}:{second}"
        )
        return fields.get("response") == expected and fields.get("uri") == request.path_qs
