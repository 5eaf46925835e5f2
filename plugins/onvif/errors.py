"""What went wrong talking to an ONVIF device, in Pantau's error classes and without secrets.

Every exception from onvif-zeep-async, zeep or aiohttp becomes a `VendorError` subclass whose
message names the camera and the operation; the device's own words (a SOAP fault reason) are
kept but the password is cut out of them, and the original exception is not chained, so no
traceback can carry it either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from zeep.exceptions import Fault, TransportError, ValidationError, XMLParseError, XMLSyntaxError

from hub.vendors import (
    AuthenticationFailed,
    BadPayload,
    ClockSkew,
    DeviceUnreachable,
    Unsupported,
    VendorError,
)
from plugins.onvif.client import ONVIFError
from plugins.onvif.const import SKEW_LIMIT

_AUTH_CODES = (
    "notauthorized",
    "failedauthentication",
    "invalidsecurity",
    "invalidsecuritytoken",
    "securitytokenunavailable",
    "failedcheck",
    "messageexpired",
    "unauthorized",
)
_AUTH_WORDS = (
    "not authorized",
    "not authorised",
    "unauthorized",
    "authentication",
    "authority failure",
    "wrong password",
    "invalid username",
)
_UNSUPPORTED_WORDS = (
    "actionnotsupported",
    "not implemented",
    "not supported",
    "notsupported",
    "no such operation",
    "unknown method",
)
_DETAIL_CHARS = 200


class Refused(Unsupported):
    """The device answered a request with a SOAP fault (other than a refused login).

    An `Unsupported` to callers; the event loop tells it apart from a missing service, as a
    fault may pass (too many subscriptions, a busy device).
    """


def _fault_words(fault: Fault) -> str:
    codes = [str(fault.code or "")]
    codes += [str(code) for code in fault.subcodes or ()]
    return " ".join(codes).lower()


def is_auth_failure(exc: BaseException) -> bool:
    """Whether the device refused the credentials (a SOAP fault or an HTTP 401/403)."""
    if isinstance(exc, Fault):
        codes = _fault_words(exc)
        reason = str(exc.message or "").lower()
        return any(code in codes for code in _AUTH_CODES) or any(
            word in reason for word in _AUTH_WORDS
        )
    if isinstance(exc, TransportError):
        return exc.status_code in (401, 403)
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status in (401, 403)
    return False


@dataclass(slots=True)
class ErrorWords:
    """Turns exceptions into `VendorError`s for one camera, hiding its password."""

    camera: str
    password: str | None
    skew: float | None = None
    """The device's clock minus ours, in seconds, when measured."""

    def scrub(self, text: str) -> str:
        """`text` without the password, cut to a readable length."""
        if self.password:
            for secret in {self.password, quote(self.password, safe="")}:
                text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "..."

    def refused(self, what: str) -> VendorError:
        """The error for refused credentials: the clock is blamed first when it is far off."""
        skew = self.skew
        if skew is not None and abs(skew) > SKEW_LIMIT:
            return ClockSkew(
                f"camera {self.camera!r}: {what} refused; the camera's clock is {skew:+.0f} s"
                " off, which breaks ONVIF's time-stamped login: set its clock (NTP) and retry",
                skew,
            )
        return AuthenticationFailed(f"camera {self.camera!r}: {what} refused the credentials")

    def translate(self, exc: BaseException, what: str) -> VendorError:
        """The `VendorError` for an exception raised while doing `what`."""
        if isinstance(exc, VendorError):
            return exc
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if isinstance(exc, ONVIFError):
            if cause is not exc:
                return self.translate(cause, what)
            text = self.scrub(str(exc))
            if "support" in text.lower():
                return Unsupported(f"camera {self.camera!r}: {what}: {text}")
            return BadPayload(f"camera {self.camera!r}: {what}: {text}")
        if is_auth_failure(exc):
            return self.refused(what)
        where = f"camera {self.camera!r}: {what}"
        if isinstance(exc, Fault):
            reason = self.scrub(str(exc.message or "") or _fault_words(exc))
            words = _fault_words(exc) + " " + reason.lower()
            if any(word in words for word in _UNSUPPORTED_WORDS):
                return Unsupported(f"{where}: the device does not support it ({reason})")
            return Refused(f"{where}: the device refused it ({reason})")
        if isinstance(exc, TransportError):
            if exc.status_code and exc.status_code != 200 and not exc.content:
                return DeviceUnreachable(f"{where}: the device answered HTTP {exc.status_code}")
            return BadPayload(f"{where}: the answer is not valid XML")
        if isinstance(exc, XMLSyntaxError | XMLParseError | ValidationError):
            return BadPayload(f"{where}: the answer could not be read ({type(exc).__name__})")
        if isinstance(exc, TimeoutError):
            return DeviceUnreachable(f"{where}: timed out")
        if isinstance(exc, aiohttp.ClientResponseError):
            return DeviceUnreachable(f"{where}: the device answered HTTP {exc.status}")
        if isinstance(exc, aiohttp.ClientError | OSError):
            detail = self.scrub(str(exc)) or type(exc).__name__
            return DeviceUnreachable(f"{where}: {detail}")
        if isinstance(exc, ValueError | LookupError | AttributeError | TypeError):
            return BadPayload(f"{where}: unexpected answer ({type(exc).__name__})")
        return DeviceUnreachable(f"{where}: {type(exc).__name__}")
