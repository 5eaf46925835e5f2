"""Real receivers for delivery tests: an HTTP server for webhook-style services, an SMTP server.

Both run in the test's own event loop on 127.0.0.1 and record what they are sent, so the tests
see what a responder's phone or mailbox would see.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REFERENCE = "ref: "


def reference_of(text: str) -> str | None:
    """The idempotency key on a message's `ref: ` line, if it has one."""
    for line in reversed(text.splitlines()):
        if line.strip().startswith(REFERENCE):
            return line.strip()[len(REFERENCE) :]
    return None


@dataclass
class Hit:
    """One request the webhook receiver got, and when (monotonic seconds)."""

    path: str
    kind: str
    """`json` or `form`."""
    title: str
    message: str
    attachments: dict[str, bytes]
    at: float
    status: int

    @property
    def reference(self) -> str | None:
        """The idempotency key this message carried."""
        return reference_of(self.message)


@dataclass
class WebhookReceiver:
    """An aiohttp server answering Apprise's json:// and form:// posts.

    `status` is what it answers; `delay` how long it waits first; `stop()` takes it off the
    network (connection refused) and `start()` brings it back on the same port.
    """

    status: int = 200
    delay: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def url(self, kind: str, path: str = "hook") -> str:
        return f"{kind}://127.0.0.1:{self.port}/{path}"

    def references(self) -> list[str | None]:
        return [hit.reference for hit in self.hits]

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        """Until at least `count` requests arrived."""
        async with asyncio.timeout(within):
            while len(self.hits) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        status = self.status
        if request.content_type == "application/json":
            payload: dict[str, Any] = await request.json()
            files = {
                item["filename"]: base64.b64decode(item["base64"])
                for item in payload.get("attachments") or []
            }
            hit = Hit(request.path, "json", payload["title"], payload["message"], files, at, status)
        else:
            form = await request.post()
            files = {
                value.filename: value.file.read()
                for value in form.values()
                if isinstance(value, web.FileField)
            }
            hit = Hit(
                request.path, "form", str(form["title"]), str(form["message"]), files, at, status
            )
        self.hits.append(hit)
        self._arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=status, text="ok" if status < 300 else "no")


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        assert part is not None
        content = part.get_content()
        assert isinstance(content, str)
        return content

    @property
    def attachments(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_filename() or ""] = payload
        return found


@dataclass
class SmtpReceiver:
    """An aiosmtpd server, plain SMTP with AUTH, in the test's loop; it keeps what it gets."""

    user: str
    password: str
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self,
                hostname="localhost",
                auth_require_tls=False,
                authenticator=self._authenticate,
                loop=loop,
            ),
            "127.0.0.1",
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def url(self, to: str = "bpbd@pantau.test") -> str:
        return (
            f"mailto://{self.user}:{self.password}@127.0.0.1:{self.port}"
            f"?mode=insecure&from=hub@pantau.test&to={to}"
        )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        recipients = [str(r) for r in envelope.rcpt_tos]
        self.mails.append(Mail(str(envelope.mail_from), recipients, message))
        return "250 OK"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append(login)
        ok = login == self.user and password == self.password
        return AuthResult(success=ok, handled=False)
