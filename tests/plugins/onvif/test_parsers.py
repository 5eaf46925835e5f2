"""The topic registry on recorded Axis and Hikvision messages, hand-made ones, and fuzz."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.vendorkit import PayloadLog
from hub.vendors import CameraEvent
from plugins.onvif.parsers import (
    TOPIC_PARSERS,
    EventContext,
    find_parser,
    normalize_topic,
    read_events,
)
from tests.plugins.onvif.fakecam import FIXTURES

AXIS = FIXTURES / "axis" / "metadata-stream"
NONE = EventContext()
log = logging.getLogger("plugins.onvif")


def events_of(document: bytes | str, ctx: EventContext = NONE) -> list[CameraEvent]:
    return read_events(document, ctx, PayloadLog(log, "Gerbang Tol"))


def message(
    topic: str,
    data: dict[str, str],
    operation: str | None = "Changed",
    source: dict[str, str] | None = None,
    prefix: str = "tns1",
) -> str:
    items = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in data.items())
    sources = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in (source or {}).items())
    op = f' PropertyOperation="{operation}"' if operation else ""
    return (
        f'<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
        f' xmlns:{prefix}="http://www.onvif.org/ver10/topics"'
        f' xmlns:tt="http://www.onvif.org/ver10/schema"><wsnt:Topic>{topic}</wsnt:Topic>'
        f'<wsnt:Message><tt:Message UtcTime="2024-05-01T10:00:00Z"{op}>'
        f"<tt:Source>{sources}</tt:Source><tt:Data>{items}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("VMD4_ANY_CHANGE", [("motion", "start")]),
        ("VMD4_C1P1_INIT", []),  # Initialized, not active: nothing holds
        ("MOTION_GUARD_INIT", []),
        ("RULE_ENGINE_REGION_DETECTOR_INIT", []),
        ("GLOBAL_SCENE_CHANGE", []),
        ("PORT_ANY_INIT", []),
        ("FIRST_MESSAGE", []),
        ("DAYNIGHT_INIT", [("raw", "pulse")]),
        ("PTZ_MOVE_START", [("raw", "pulse")]),
        ("STORAGE_ALERT_INIT", [("raw", "pulse")]),
        ("OBJECT_ANALYTICS_INIT", [("raw", "pulse")]),
    ],
)
def test_axis_messages(name: str, expected: list[tuple[str, str]]) -> None:
    events = events_of((AXIS / f"{name}.xml").read_bytes())
    assert [(event.kind, event.state) for event in events] == expected


def test_axis_topics_keep_their_vendor_segments() -> None:
    (motion,) = events_of((AXIS / "VMD4_ANY_CHANGE.xml").read_bytes())
    assert motion.raw_topic == "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY"
    assert motion.raw["data"] == {"active": "1"} and motion.time is not None
    (daynight,) = events_of((AXIS / "DAYNIGHT_INIT.xml").read_bytes())
    assert daynight.raw_topic == "tns1:VideoSource/tnsaxis:DayNightVision"
    assert daynight.raw["operation"] == "Initialized"


def test_unknown_topic_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    payloads = PayloadLog(log, "Gerbang Tol")
    ptz = (AXIS / "PTZ_PRESET_AT_1_TRUE.xml").read_bytes()
    with caplog.at_level(logging.INFO, logger="plugins.onvif"):
        for _ in range(3):
            (event,) = read_events(ptz, NONE, payloads)
            assert event.kind == "raw"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "Gerbang Tol" in lines[0] and "PTZPresets" in lines[0]


def test_hikvision_initialized_true_gives_the_current_state() -> None:
    recorded = (FIXTURES / "hikvision" / "PullMessagesResponse.initialized-topics.xml").read_text()
    holding = recorded.replace('Name="IsMotion" Value="false"', 'Name="IsMotion" Value="true"')
    kinds = [(e.kind, e.state, e.region) for e in events_of(holding) if e.kind != "raw"]
    assert kinds == [("motion", "start", "MyMotionDetectorRule")]


@pytest.mark.parametrize(
    ("topic", "data", "expected"),
    [
        ("tns1:VideoSource/MotionAlarm", {"State": "true"}, ("motion", "start", None)),
        (
            "tns1:RuleEngine/LineDetector/Crossed",
            {"ObjectId": "7"},
            ("line_crossing", "pulse", None),
        ),
        (
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            {"IsInside": "false"},
            ("intrusion", "end", "field"),
        ),
        (
            "tns1:RuleEngine/TamperDetector/Tamper",
            {"IsTamper": "1"},
            ("tamper", "start", "covered"),
        ),
        (
            "tns1:VideoSource/GlobalSceneChange/ImagingService",
            {"State": "true"},
            ("tamper", "start", "scene_change"),
        ),
        (
            "tns1:VideoSource/ImageTooBlurry/AnalyticsService",
            {"State": "true"},
            ("tamper", "start", "defocus"),
        ),
        (
            "tns1:VideoSource/ImageTooDark/ImagingService",
            {"State": "true"},
            ("tamper", "start", "covered"),
        ),
        ("tns1:VideoSource/SignalLoss", {"State": "true"}, ("video_loss", "start", None)),
    ],
)
def test_registry(topic: str, data: dict[str, str], expected: tuple[str, str, str | None]) -> None:
    (event,) = events_of(message(topic, data))
    assert (event.kind, event.state, event.detail) == expected
    assert event.raw_topic == topic


def test_digital_input_names_its_input() -> None:
    (event,) = events_of(
        message(
            "tns1:Device/Trigger/DigitalInput",
            {"LogicalState": "true"},
            source={"InputToken": "DI_2"},
        )
    )
    assert (event.kind, event.state, event.detail) == ("io_input", "start", "DI_2")


def test_property_operations() -> None:
    topic = "tns1:RuleEngine/CellMotionDetector/Motion"
    assert [e.state for e in events_of(message(topic, {"IsMotion": "true"}, "Initialized"))] == [
        "start"
    ]
    assert events_of(message(topic, {"IsMotion": "false"}, "Initialized")) == []
    assert [e.state for e in events_of(message(topic, {}, "Deleted"))] == ["end"]
    assert [e.state for e in events_of(message(topic, {"IsMotion": "false"}, None))] == ["end"]
    crossed = "tns1:RuleEngine/LineDetector/Crossed"
    assert events_of(message(crossed, {"ObjectId": "1"}, "Initialized")) == []


def test_topic_prefixes_are_normalized() -> None:
    (event,) = events_of(message("ns7:VideoSource/SignalLoss", {"State": "true"}, prefix="ns7"))
    assert (event.kind, event.raw_topic) == ("video_loss", "tns1:VideoSource/SignalLoss")
    assert normalize_topic(" tns1:A/B//. ", {"tns1": "http://www.onvif.org/ver10/topics"}) == (
        "tns1:A/B"
    )
    assert normalize_topic("x:A|y:B", {}) == "x:A"
    assert find_parser("tns1:VideoSource/ImageTooBright/RecordingService") is not None
    assert find_parser("tns1:VideoSource") is None


def test_channels_of_a_multi_source_device() -> None:
    ctx = EventContext({"VideoSource_1": 1, "VSC_1": 1, "VideoSource_2": 2, "VSC_2": 2})
    motion = message(
        "tns1:VideoSource/MotionAlarm", {"State": "true"}, source={"Source": "VideoSource_2"}
    )
    (event,) = events_of(motion, ctx)
    assert event.channel == 2
    (single,) = events_of(motion, EventContext({"VideoSource_1": 1, "VSC_1": 1}))
    assert single.channel is None


def test_object_kind_from_the_data() -> None:
    (event,) = events_of(
        message(
            "tns1:RuleEngine/FieldDetector/ObjectsInside",
            {"IsInside": "true", "ClassTypes": "Human"},
        )
    )
    assert event.object == "person"


def test_malformed_is_skipped_and_named(caplog: pytest.LogCaptureFixture) -> None:
    bad = [
        message("tns1:VideoSource/SignalLoss", {"State": "maybe"}),
        message("tns1:VideoSource/SignalLoss", {"Other": "true"}),
        '<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">'
        "<wsnt:Topic>tns1:X</wsnt:Topic></wsnt:NotificationMessage>",
    ]
    document = "<root>" + "".join(bad) + "</root>"
    with caplog.at_level(logging.WARNING, logger="plugins.onvif"):
        assert events_of(document) == []
        assert events_of(b"\x00\xff not xml") == []
    assert caplog.records and all("Gerbang Tol" in r.getMessage() for r in caplog.records)


def test_every_registry_key_is_normalized() -> None:
    for key in TOPIC_PARSERS:
        assert key == normalize_topic(key, {}), key


# fuzz

XMLISH = st.text(
    alphabet=st.sampled_from(list("<>/=\"' :abcxyzTopicMesageDtSimpleItemNV01&;#\n\x00é")),
    max_size=300,
)
NAMES = st.sampled_from(
    [
        "{http://docs.oasis-open.org/wsn/b-2}NotificationMessage",
        "{http://docs.oasis-open.org/wsn/b-2}Topic",
        "{http://docs.oasis-open.org/wsn/b-2}Message",
        "{http://www.onvif.org/ver10/schema}Message",
        "{http://www.onvif.org/ver10/schema}Source",
        "{http://www.onvif.org/ver10/schema}Data",
        "{http://www.onvif.org/ver10/schema}Key",
        "{http://www.onvif.org/ver10/schema}SimpleItem",
        "{http://www.onvif.org/ver10/schema}ElementItem",
        "Other",
    ]
)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["Name", "Value", "PropertyOperation", "UtcTime", "Dialect"]),
    st.sampled_from(["", "true", "0", "IsMotion", "State", "Initialized", "x", "2024-13-99T"]),
    max_size=3,
)
TEXTS = st.one_of(
    st.none(),
    st.sampled_from(list(TOPIC_PARSERS) + ["tns1:", "/", "a:b:c/d", "  ", "tns1:VideoSource"]),
    st.text(max_size=20).map(lambda text: "".join(c for c in text if c.isprintable())),
)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    element = etree.Element(draw(NAMES), draw(ATTRIBUTES))
    element.text = draw(TEXTS)
    if depth < 4:
        for _ in range(draw(st.integers(0, 3))):
            element.append(draw(trees(depth + 1)))
    return element


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(XMLISH)
def test_fuzz_text_never_raises(payload: str) -> None:
    assert isinstance(read_events(payload, NONE, PayloadLog(log, "fuzz")), list)
    assert isinstance(read_events(payload.encode("utf-8"), NONE, PayloadLog(log, "fuzz")), list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_fuzz_element_trees_never_raise(tree: etree._Element) -> None:
    ctx = EventContext({"0": 1, "1": 2})
    assert isinstance(read_events(tree, ctx, PayloadLog(log, "fuzz")), list)
    assert isinstance(read_events(etree.tostring(tree), ctx, PayloadLog(log, "fuzz")), list)
