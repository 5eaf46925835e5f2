"""WS-Discovery: a Probe for ONVIF video devices by UDP multicast, and their ProbeMatches."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from hub.vendors import BadPayload, DiscoveredDevice
from plugins.onvif.const import LOGGER_NAME, MULTICAST_GROUP, VENDOR_NAME, WSA_2004, WSDD
from plugins.onvif.parsers import parse_xml

log = logging.getLogger(LOGGER_NAME)

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<e:Header>
<w:MessageID>urn:uuid:{message_id}</w:MessageID>
<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>
<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>
</e:Header>
<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>
</e:Envelope>"""
"""A WS-Discovery Probe for ONVIF network video transmitters."""

_REPEAT_AFTER = 0.25
"""UDP may lose the probe: it is sent a second time this long after the first."""


def probe_message(message_id: str | None = None) -> bytes:
    """A Probe with its own message id."""
    return PROBE.format(message_id=message_id or uuid.uuid4()).encode("utf-8")


def _scope_values(scopes: list[str], kind: str) -> str | None:
    for scope in scopes:
        marker = f"/{kind}/"
        at = scope.lower().find(marker)
        if at >= 0 and scope.lower().startswith("onvif://"):
            value = unquote(scope[at + len(marker) :]).strip()
            if value:
                return value
    return None


def _text(element: Any, path: str) -> str:
    found = element.find(path, {"d": WSDD, "a": WSA_2004})
    return (found.text or "").strip() if found is not None else ""


def parse_probe_matches(payload: bytes | str, sender: str | None = None) -> list[DiscoveredDevice]:
    """The devices in a ProbeMatches message; BadPayload when it is not one."""
    root = parse_xml(payload)
    matches = list(root.iter(f"{{{WSDD}}}ProbeMatch"))
    if not matches and not list(root.iter(f"{{{WSDD}}}ProbeMatches")):
        raise BadPayload("not a WS-Discovery ProbeMatches message")
    devices = []
    for match in matches:
        urls = tuple(url for url in _text(match, "d:XAddrs").split() if "://" in url)
        scopes = tuple(_text(match, "d:Scopes").split())
        host = next((urlsplit(url).hostname for url in urls if urlsplit(url).hostname), None)
        address = host or sender
        if not address:
            continue
        devices.append(
            DiscoveredDevice(
                vendor=VENDOR_NAME,
                address=address,
                urls=urls,
                manufacturer=_scope_values(list(scopes), "mfr")
                or _scope_values(list(scopes), "manufacturer"),
                model=_scope_values(list(scopes), "hardware"),
                name=_scope_values(list(scopes), "name"),
                scopes=scopes,
            )
        )
    return devices


class _Listener(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: list[tuple[bytes, str]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.answers.append((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("WS-Discovery: %s", exc)


async def discover(
    wait: float = 3.0, target: tuple[str, int] = MULTICAST_GROUP
) -> list[DiscoveredDevice]:
    """The ONVIF devices that answered a Probe within `wait` seconds (one per endpoint)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        sock.bind(("", 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    transport, listener = await loop.create_datagram_endpoint(_Listener, sock=sock)
    try:
        message = probe_message()
        try:
            transport.sendto(message, target)
            await asyncio.sleep(min(_REPEAT_AFTER, wait))
            transport.sendto(message, target)
        except OSError as exc:
            log.warning("WS-Discovery: the probe could not be sent to %s: %s", target[0], exc)
            return []
        await asyncio.sleep(max(0.0, wait - _REPEAT_AFTER))
    finally:
        transport.close()
    found: dict[str, DiscoveredDevice] = {}
    for data, sender in listener.answers:
        try:
            devices = parse_probe_matches(data, sender)
        except BadPayload as exc:
            log.debug("WS-Discovery: skipped an answer from %s: %s", sender, exc)
            continue
        for device in devices:
            found.setdefault(" ".join(device.urls) or device.address, device)
    return list(found.values())
