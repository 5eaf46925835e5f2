"""Names shared by the ONVIF plugin's modules: namespaces, defaults, the logger's name."""

from __future__ import annotations

LOGGER_NAME = "plugins.onvif"
VENDOR_NAME = "onvif"

DEFAULT_PORT = 80
SKEW_LIMIT = 5.0
"""Seconds of clock difference past which a refused login is blamed on the clock."""

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
TT = "http://www.onvif.org/ver10/schema"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSDD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
PULLPOINT_NS = EVENTS_NS + "/PullPointSubscription"
SERVICE_NAMES = {
    "http://www.onvif.org/ver10/device/wsdl": "device",
    "http://www.onvif.org/ver10/media/wsdl": "media",
    "http://www.onvif.org/ver20/media/wsdl": "media2",
    EVENTS_NS: "events",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
    "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
    "http://www.onvif.org/ver10/deviceIO/wsdl": "deviceio",
    "http://www.onvif.org/ver20/analytics/wsdl": "analytics",
    "http://www.onvif.org/ver10/recording/wsdl": "recording",
    "http://www.onvif.org/ver10/search/wsdl": "search",
    "http://www.onvif.org/ver10/replay/wsdl": "replay",
    "http://www.onvif.org/ver10/receiver/wsdl": "receiver",
}
"""Service namespaces (GetServices) by the short names Pantau shows."""
CAPABILITY_SERVICES = {
    "Analytics": "http://www.onvif.org/ver20/analytics/wsdl",
    "Device": "http://www.onvif.org/ver10/device/wsdl",
    "Events": EVENTS_NS,
    "Imaging": "http://www.onvif.org/ver20/imaging/wsdl",
    "Media": "http://www.onvif.org/ver10/media/wsdl",
    "PTZ": "http://www.onvif.org/ver20/ptz/wsdl",
}
"""GetCapabilities categories and the service namespace each stands for (older devices)."""

TOPIC_PREFIXES = {
    "http://www.onvif.org/ver10/topics": "tns1",
    "http://www.axis.com/2009/event/topics": "tnsaxis",
    "http://www.hikvision.com/2011/event/topics": "tnshik",
    "http://www.eventextension.com/2011/event/topics": "tnsn",
}
"""Topic namespaces by the prefix the topic registry uses, whatever prefix a device wrote."""

MULTICAST_GROUP = ("239.255.255.250", 3702)
"""Where WS-Discovery probes go."""
