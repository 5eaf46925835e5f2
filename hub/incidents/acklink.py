"""Signed, expiring links that let a responder acknowledge an incident from the alert itself.

A link names the incident, the responder it was sent to and when it expires, signed with a key
derived from the hub's credential key (`CredentialBox.sign`), so it needs no login and cannot be
forged or stretched. Opening it shows the incident and one button; only the button's POST
acknowledges, because chat apps and mail scanners open (GET) every link they carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from hub.credentials import CredentialBox

PURPOSE = "incident-ack"
DEFAULT_VALID = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class AckLinks:
    """Makes and checks acknowledge links; `base_url` is where responders reach the hub."""

    box: CredentialBox
    base_url: str
    valid_for: timedelta = DEFAULT_VALID

    def link(self, incident_id: str, responder: str, now: datetime) -> str:
        """The link `responder` uses to acknowledge `incident_id`, valid from `now` on."""
        expires = int((now + self.valid_for).timestamp())
        signature = self.box.sign(PURPOSE, _message(incident_id, responder, expires))
        query = urlencode({"r": responder, "e": expires, "s": signature})
        return f"{self.base_url.rstrip('/')}/ack/{quote(incident_id, safe='')}?{query}"

    def check(
        self, incident_id: str, responder: str, expires: str, signature: str, now: datetime
    ) -> str | None:
        """None when the link is genuine and unexpired; otherwise why not, in plain words."""
        if not (responder and expires.isdigit() and signature):
            return "the link is incomplete: open it exactly as the alert gave it"
        if not self.box.verify(PURPOSE, _message(incident_id, responder, int(expires)), signature):
            return "the link is not genuine (changed, or made by another hub)"
        until = datetime.fromtimestamp(int(expires), UTC)
        if now >= until:
            return f"the link expired at {until:%Y-%m-%d %H:%M} UTC"
        return None


def _message(incident_id: str, responder: str, expires: int) -> str:
    return f"{incident_id}|{responder}|{expires}"
