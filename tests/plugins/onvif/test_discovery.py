"""WS-Discovery: the recorded ProbeMatches, and a probe answered by a local UDP responder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from lxml import etree

from hub.vendors import BadPayload
from plugins.onvif.discovery import parse_probe_matches, probe_message
from plugins.onvif.vendor import OnvifVendor
from tests.plugins.onvif.fakecam import FIXTURES

RECORDED = (FIXTURES / "agsh-hd-predator" / "WS-Discovery-ProbeMatches.xml").read_text()
SERVICE = "http://192.168.68.111/onvif/device_service"
WSA = "{http://schemas.xmlsoap.org/ws/2004/08/addressing}"
WSDD = "{http://schemas.xmlsoap.org/ws/2005/04/discovery}"


def matches(relates_to: str = "urn:uuid:probe") -> bytes:
    """The recorded ProbeMatches with its two placeholders filled."""
    return RECORDED.replace("SERVICE_URI", SERVICE).replace("RELATES_TO", relates_to).encode()


def test_recorded_probe_matches() -> None:
    (device,) = parse_probe_matches(matches())
    assert device.vendor == "onvif"
    assert device.address == "192.168.68.111"
    assert device.urls == (SERVICE,)
    assert (device.model, device.name, device.manufacturer) == ("HD_PREDATOR", "PREDATOR", None)
    assert "onvif://www.onvif.org/type/ptz" in device.scopes


def test_not_probe_matches() -> None:
    with pytest.raises(BadPayload):
        parse_probe_matches(b"<a/>")
    with pytest.raises(BadPayload):
        parse_probe_matches(b"not xml")


def test_probe_message_asks_for_video_transmitters() -> None:
    probe = etree.fromstring(probe_message("abc"))
    assert probe.findtext(f".//{WSA}MessageID") == "urn:uuid:abc"
    assert probe.findtext(f".//{WSDD}Types") == "dn:NetworkVideoTransmitter"


class Responder(asyncio.DatagramProtocol):
    """A device on 127.0.0.1 answering each Probe with `answer(probe)`."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.answer = answer
        self.probes: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.probes.append(data)
        assert self.transport is not None
        self.transport.sendto(self.answer(data), addr)


StartResponder = Callable[[Callable[[bytes], bytes]], Awaitable[tuple[Responder, int]]]


@pytest.fixture
async def responder() -> AsyncIterator[StartResponder]:
    """Start UDP responders on 127.0.0.1; all are closed after the test."""
    transports: list[asyncio.DatagramTransport] = []
    loop = asyncio.get_running_loop()

    async def start(answer: Callable[[bytes], bytes]) -> tuple[Responder, int]:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: Responder(answer), local_addr=("127.0.0.1", 0)
        )
        transports.append(transport)
        port: int = transport.get_extra_info("sockname")[1]
        return protocol, port

    yield start
    for transport in transports:
        transport.close()


def answer_probe(probe: bytes) -> bytes:
    message_id = etree.fromstring(probe).findtext(f".//{WSA}MessageID") or ""
    return matches(relates_to=message_id)


async def test_discover_sends_a_probe_and_reads_the_answers(responder: StartResponder) -> None:
    device, port = await responder(answer_probe)
    found = await OnvifVendor(discovery_target=("127.0.0.1", port)).discover(wait=0.6)
    assert len(device.probes) == 2  # sent twice, as UDP may lose one
    assert b"dn:NetworkVideoTransmitter" in device.probes[0]
    assert [d.address for d in found] == ["192.168.68.111"]  # answered twice, listed once


async def test_discover_ignores_garbage(responder: StartResponder) -> None:
    _, port = await responder(lambda probe: b"\x00garbage")
    assert await OnvifVendor(discovery_target=("127.0.0.1", port)).discover(wait=0.4) == []
