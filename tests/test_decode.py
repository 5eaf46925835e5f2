"""`pantau events decode`: every recorded event payload decodes to the events it means."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.cli import main
from hub.decode import (
    CaptureLog,
    Decoded,
    DecodeError,
    decode_payload,
    decoding_vendors,
    event_json,
    find_decoder,
    note_text,
    read_http_capture,
)
from hub.vendors import CameraEvent, CameraVendor, DecodingVendor
from plugins.dahua.camera import DahuaVendor
from plugins.hikvision.camera import HikvisionVendor
from plugins.onvif.vendor import OnvifVendor
from plugins.rtsp.camera import GenericStreamVendor
from tests.plugins.dahua import fakecam as dahua_wire
from tests.plugins.hikvision import wire as hikvision_wire
from tests.plugins.onvif.fakecam import render

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VENDORS: dict[str, DecodingVendor] = {
    "onvif": OnvifVendor(),
    "hikvision": HikvisionVendor(),
    "dahua": DahuaVendor(),
}
EVENT_PAYLOAD = re.compile(
    r"PullMessages|NotificationMessage|EventNotificationAlert|alertStream|eventManager|"
    r"notifyEventStream|eventList|metadata.stream",
    re.IGNORECASE,
)
"""What a MANIFEST row (path and description) says when its file is an event payload."""

Expected = tuple[str, str, int | None, str | None, str | None, str | None]
"""An event as (kind, state, channel, object, detail, region)."""


def as_recorded(data: bytes) -> bytes:
    return data


def filled_template(data: bytes) -> bytes:
    """agsh's mock-server template with its placeholders filled, as the mock server sends it."""
    values = {
        "it.hostname": "192.0.2.10",
        "it.port": "80",
        "it.pullPointUrl": "/onvif/pullpoint/1",
        "new Date().toISOString()": "2024-05-01T10:00:00Z",
    }
    return render(data.decode("utf-8"), values).encode("utf-8")


def on_the_wire(data: bytes) -> bytes:
    """The stored LF line ends as the wire has them (CRLF), per the MANIFEST row."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def alert_stream(data: bytes) -> bytes:
    """HikSink's JSON lines of recorded alertStream parts, framed as the device sent them."""
    bodies = [json.loads(line)["content"].encode("utf-8") for line in data.splitlines()]
    return hikvision_wire.stream(bodies)


def crossregion_record(data: bytes) -> bytes:
    """The recorded IVS data in the attach record it came in (its prefix is not recorded)."""
    body = dahua_wire.record("CrossRegionDetection", "Start", 0, json.loads(data), indent=3)
    return dahua_wire.part(body)


@dataclass(frozen=True)
class Case:
    """How a recorded payload is captured, and what decoding it must give."""

    capture: Callable[[bytes], bytes] = as_recorded
    events: tuple[Expected, ...] = ()
    counts: Mapping[tuple[str, str], int] | None = None
    """For long captures: how many events of each (kind, state), instead of `events`."""
    notes: tuple[str, ...] = ()
    """Words that some note on standard error must hold, each."""


INITIALIZED = "Initialized, not holding"
CASES: dict[str, Case] = {
    # ONVIF: PullMessages answers and Axis metadata-stream messages.
    "onvif/agsh-hd-predator/PullMessagesResponse.TEMPLATED.xml": Case(
        filled_template,
        events=(("motion", "start", None, None, None, "000"),) * 2,
    ),
    "onvif/hikvision/PullMessagesResponse.initialized-topics.xml": Case(
        events=(("raw", "pulse", None, None, None, None),) * 3,
        notes=(
            f"tns1:VideoSource/MotionAlarm {INITIALIZED}",
            f"tns1:RuleEngine/CellMotionDetector/Motion {INITIALIZED}",
            f"tns1:RuleEngine/TamperDetector/Tamper {INITIALIZED}",
            f"tns1:VideoSource/ImageTooDark/ImagingService {INITIALIZED}",
            f"tns1:RuleEngine/FieldDetector/ObjectsInside {INITIALIZED}",
            "unknown topic tns1:Monitoring/OperatingTime/LastReset",
        ),
    ),
    "onvif/axis/metadata-stream/FIRST_MESSAGE.xml": Case(notes=("no wsnt:NotificationMessage",)),
    "onvif/axis/metadata-stream/DAYNIGHT_INIT.xml": Case(
        events=(("raw", "pulse", None, None, None, None),),
        notes=("unknown topic tns1:VideoSource/tnsaxis:DayNightVision",),
    ),
    "onvif/axis/metadata-stream/GLOBAL_SCENE_CHANGE.xml": Case(
        notes=(f"GlobalSceneChange/ImagingService {INITIALIZED}",)
    ),
    "onvif/axis/metadata-stream/MOTION_GUARD_INIT.xml": Case(
        notes=(f"MotionGuard/Camera1ProfileANY {INITIALIZED}",)
    ),
    "onvif/axis/metadata-stream/OBJECT_ANALYTICS_INIT.xml": Case(
        events=(("raw", "pulse", None, None, None, None),),
        notes=("unknown topic tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1",),
    ),
    "onvif/axis/metadata-stream/PORT_ANY_INIT.xml": Case(notes=(f"tnsaxis:IO/Port {INITIALIZED}",)),
    "onvif/axis/metadata-stream/PTZ_MOVE_START.xml": Case(
        events=(("raw", "pulse", None, None, None, None),),
        notes=("unknown topic tns1:PTZController/tnsaxis:Move/Channel_1",),
    ),
    **{
        f"onvif/axis/metadata-stream/{name}.xml": Case(
            events=(("raw", "pulse", None, None, None, None),),
            notes=("unknown topic tns1:PTZController/tnsaxis:PTZPresets/Channel_1",),
        )
        for name in (
            "PTZ_PRESET_AT_1_TRUE",
            "PTZ_PRESET_AT_2_TRUE",
            "PTZ_PRESET_AT_3_FALSE",
            "PTZ_PRESET_AT_3_TRUE",
            "PTZ_PRESET_INIT_1",
            "PTZ_PRESET_INIT_2",
        )
    },
    "onvif/axis/metadata-stream/RULE_ENGINE_REGION_DETECTOR_INIT.xml": Case(
        notes=(f"MotionRegionDetector/Motion {INITIALIZED}",)
    ),
    "onvif/axis/metadata-stream/STORAGE_ALERT_INIT.xml": Case(
        events=(("raw", "pulse", None, None, None, None),),
        notes=("unknown topic tnsaxis:Storage/Alert",),
    ),
    "onvif/axis/metadata-stream/VMD4_ANY_CHANGE.xml": Case(
        events=(("motion", "start", None, None, None, None),)
    ),
    "onvif/axis/metadata-stream/VMD4_C1P1_INIT.xml": Case(
        notes=(f"VMD/Camera1Profile1 {INITIALIZED}",)
    ),
    # Hikvision: single alerts, the recorded alertStream, an alarm-host push.
    "hikvision/alert/HikSink.cam.VMD.active.xml": Case(
        events=(("motion", "start", 1, None, None, None),), notes=("motion (VMD) still open",)
    ),
    "hikvision/alert/HikSink.cam.VMD.inactive.xml": Case(
        notes=("VMD inactive: ends a condition only once an active alert started it",)
    ),
    "hikvision/alert/HikSink.cam.linedetection.active.regions.xml": Case(
        events=(("line_crossing", "pulse", 1, None, None, "1"),)
    ),
    "hikvision/alert/HikSink.cam.linedetection.inactive.xml": Case(
        notes=("linedetection inactive: ends a condition only once an active alert started it",)
    ),
    "hikvision/alert/HikSink.cam.videoloss.inactive.xml": Case(
        notes=("videoloss inactive with no video loss started: the heartbeat",)
    ),
    "hikvision/alert/HikSink.nvr.VMD.active.xml": Case(
        events=(("motion", "start", 15, None, None, None),)
    ),
    "hikvision/alert/HikSink.nvr.fielddetection.active.xml": Case(
        events=(("intrusion", "start", 7, None, "field", None),)
    ),
    "hikvision/alert/HikSink.nvr.linedetection.active.xml": Case(
        events=(("line_crossing", "pulse", 5, None, None, None),)
    ),
    "hikvision/alert/HikSink.nvr.videoloss.active.xml": Case(
        events=(("video_loss", "start", 16, None, None, None),)
    ),
    "hikvision/alert/EventNotificationAlert.linedetection.vehicle.httpHost-push.xml": Case(
        events=(("line_crossing", "pulse", 1, "vehicle", None, "1"),)
    ),
    "hikvision/httpHost-push.multipart-form.linedetection+image.txt": Case(
        on_the_wire,
        events=(("line_crossing", "pulse", 1, "vehicle", None, "1"),),
        notes=("Content-Length 100 runs past the boundary",),  # 100 bytes for 36
    ),
    "hikvision/alertStream-captures/HikSink.samples_cam.jsonl": Case(
        alert_stream,
        counts={("motion", "start"): 30, ("motion", "end"): 30, ("line_crossing", "pulse"): 20},
        notes=("videoloss inactive with no video loss started", "a repeat of a condition"),
    ),
    # Dahua: parsed attach records, IVS data, RPC event lists.
    "dahua/eventManager-attach/rroller.CrossLineDetection.start.parsed.json": Case(
        events=(("line_crossing", "start", 1, None, None, "Rule1"),)
    ),
    "dahua/eventManager-attach/scrypted.CrossRegionDetection.human.data.json": Case(
        crossregion_record, events=(("intrusion", "start", 1, "person", "region", "Rule1"),)
    ),
    "dahua/vto-rpc/VTO.eventList.examples.json": Case(
        events=(
            ("motion", "start", None, None, None, None),  # no Index: no channel
            ("raw", "pulse", 1, None, None, None),
            ("raw", "pulse", None, None, None, None),  # Index -1: no channel
        ),
        notes=("unknown topic DoorStatus", "unknown topic BackKeyLight"),
    ),
    "dahua/vto-rpc/DHIP.notifyEventStream.VideoMotionInfo.json": Case(
        notes=("no event from VideoMotionInfo state report: a report that a condition still",)
    ),
}


def manifest_rows() -> dict[str, str]:
    """Every recorded payload of the three vendors: its path and what the MANIFEST says."""
    rows: dict[str, str] = {}
    for vendor in VENDORS:
        with (FIXTURES / vendor / "MANIFEST.tsv").open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE):
                rows[row["path"]] = row["what"]
    return rows


def event_payloads() -> list[str]:
    """The recorded payloads that are device events, as their MANIFEST rows say."""
    return sorted(
        path for path, what in manifest_rows().items() if EVENT_PAYLOAD.search(f"{path} {what}")
    )


def decoded(path: str, capture: Callable[[bytes], bytes] = as_recorded) -> Decoded:
    vendor = VENDORS[path.split("/")[0]]
    return decode_payload(vendor, capture((FIXTURES / path).read_bytes()), Path(path).name)


def shape(event: CameraEvent) -> Expected:
    return (event.kind, event.state, event.channel, event.object, event.detail, event.region)


def notes_of(result: Decoded) -> str:
    return "\n".join(note_text(note) for note in result.notes)


# -- every recorded event payload ------------------------------------------------------------


def test_every_recorded_event_payload_has_an_expected_decode() -> None:
    missing = [path for path in event_payloads() if path not in CASES]
    assert not missing, f"add what these decode to, to CASES: {missing}"


def test_every_case_is_a_recorded_payload() -> None:
    rows = manifest_rows()
    assert sorted(CASES) == event_payloads()
    for path in CASES:
        assert path in rows and (FIXTURES / path).is_file(), path


def test_every_fixture_file_has_a_manifest_row() -> None:
    rows = manifest_rows()
    for vendor in VENDORS:
        for file in (FIXTURES / vendor).rglob("*"):
            name = file.relative_to(FIXTURES).as_posix()
            if file.is_file() and file.name not in ("MANIFEST.tsv", "README.md"):
                assert name in rows, f"{name} has no row in {vendor}/MANIFEST.tsv"


@pytest.mark.parametrize("path", sorted(CASES))
def test_a_recorded_payload_decodes_to_what_it_means(path: str) -> None:
    case = CASES[path]
    result = decoded(path, case.capture)
    if case.counts is not None:
        assert Counter((e.kind, e.state) for e in result.events) == case.counts
    else:
        assert [shape(event) for event in result.events] == list(case.events)
    text = notes_of(result)
    for words in case.notes:
        assert words in text, f"{path}: no note says {words!r}; notes:\n{text}"
    for event in result.events:
        assert event.raw_topic
        json.dumps(event_json(result.vendor, event))  # JSON-ready, whatever the device sent


def test_a_templated_payload_as_stored_is_named_malformed() -> None:
    result = decoded("onvif/agsh-hd-predator/PullMessagesResponse.TEMPLATED.xml")
    assert result.events == []
    assert notes_of(result).startswith("skipped event document: not XML:")


def test_a_push_saved_with_lf_line_ends_says_so() -> None:
    result = decoded("hikvision/httpHost-push.multipart-form.linedetection+image.txt")
    assert result.events == []
    text = notes_of(result)
    assert "Content-Length 1251 runs past the boundary" in text
    assert "line ends are LF only" in text


def test_an_alert_stream_keeps_each_condition_from_start_to_end() -> None:
    path = "hikvision/alertStream-captures/HikSink.samples_cam.jsonl"
    result = decoded(path, alert_stream)
    motion = [event.state for event in result.events if event.kind == "motion"]
    assert motion == ["start", "end"] * 30
    assert result.events[0].raw_topic == "VMD" and result.events[0].channel == 1


# -- capture forms -----------------------------------------------------------------------------


def http_response(body: bytes, content_type: str, chunked: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
        chunks = [body[i : i + 700] for i in range(0, len(body), 700)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return head.encode() + b"\r\n" + body


@pytest.mark.parametrize("chunked", [False, True])
def test_an_alert_stream_with_its_http_head_and_a_boundary_of_its_own(chunked: bool) -> None:
    bodies = [
        hikvision_wire.alert("HikSink.nvr.VMD.active"),
        hikvision_wire.alert("HikSink.nvr.fielddetection.active"),
    ]
    stream = hikvision_wire.stream(bodies).replace(b"--boundary", b"--MIME_boundary_7")
    capture = b"GET /ISAPI/Event/notification/alertStream HTTP/1.1\r\nHost: cam\r\n\r\n"
    capture += http_response(stream, "multipart/mixed; boundary=MIME_boundary_7", chunked)
    result = decode_payload(VENDORS["hikvision"], capture)
    assert [(e.kind, e.channel) for e in result.events] == [("motion", 15), ("intrusion", 7)]
    assert not [note for note in result.notes if note.kind == "malformed"]


def test_a_json_alert_decodes_like_xml() -> None:
    body = hikvision_wire.json_alert("fielddetection", "active", 3, targetType="human")
    result = decode_payload(VENDORS["hikvision"], body)
    assert [shape(e) for e in result.events] == [("intrusion", "start", 3, "person", "field", None)]


def test_an_image_part_is_named_not_an_alert() -> None:
    stream = hikvision_wire.stream(
        [hikvision_wire.alert("HikSink.cam.linedetection.active.regions")]
    )
    stream += hikvision_wire.part(b"\xff\xd8\xff\xe0 picture", content_type="image/jpeg")
    result = decode_payload(VENDORS["hikvision"], stream)
    assert len(result.events) == 1
    assert "no event from part 2: a part of 12 bytes (image/jpeg), not an alert" in notes_of(result)


def test_a_dahua_attach_stream_with_its_http_head_and_heartbeats() -> None:
    line = json.loads(
        dahua_wire.fixture("eventManager-attach/rroller.CrossLineDetection.start.parsed.json")
    )
    body = (
        dahua_wire.HEARTBEAT
        + dahua_wire.part(dahua_wire.record("VideoMotion", "Start", 1))
        + dahua_wire.part(dahua_wire.record("CrossLineDetection", "Start", 0, line["data"], 3))
        + dahua_wire.part(dahua_wire.record("VideoMotion", "Stop", 1), length=False)
        + dahua_wire.HEARTBEAT
    )
    capture = http_response(body, "multipart/x-mixed-replace; boundary=myboundary", chunked=True)
    result = decode_payload(VENDORS["dahua"], capture)
    assert [shape(e) for e in result.events] == [
        ("motion", "start", 2, None, None, None),
        ("line_crossing", "start", 1, None, None, "Rule1"),
        ("motion", "end", 2, None, None, None),
    ]
    assert "no event from 2 heartbeats" in notes_of(result)


def test_bare_dahua_records_without_a_final_line_end() -> None:
    capture = b"Code=VideoBlind;action=Start;index=3\r\nCode=AlarmLocal;action=Stop;index=1"
    result = decode_payload(VENDORS["dahua"], capture)
    assert [shape(e) for e in result.events] == [
        ("tamper", "start", 4, None, "covered", None),
        ("io_input", "end", None, None, "1", None),
    ]


def test_one_onvif_notification_decodes_on_its_own() -> None:
    message = (
        '<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
        ' xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:tt="http://www.onvif.org/ver10/schema">'
        "<wsnt:Topic>tns1:RuleEngine/LineDetector/Crossed</wsnt:Topic><wsnt:Message>"
        '<tt:Message UtcTime="2024-05-01T10:00:00Z"><tt:Source>'
        '<tt:SimpleItem Name="Rule" Value="Gate"/></tt:Source><tt:Data>'
        '<tt:SimpleItem Name="ObjectType" Value="Human"/></tt:Data></tt:Message>'
        "</wsnt:Message></wsnt:NotificationMessage>"
    )
    result = decode_payload(VENDORS["onvif"], message.encode())
    assert [shape(e) for e in result.events] == [
        ("line_crossing", "pulse", None, "person", None, "Gate")
    ]


def test_an_onvif_answer_with_its_chunked_http_head() -> None:
    answer = filled_template(
        (FIXTURES / "onvif/agsh-hd-predator/PullMessagesResponse.TEMPLATED.xml").read_bytes()
    )
    capture = http_response(answer, "application/soap+xml; charset=utf-8", chunked=True)
    result = decode_payload(VENDORS["onvif"], capture)
    assert [(e.kind, e.state) for e in result.events] == [("motion", "start")] * 2


def test_an_onvif_fault_is_named() -> None:
    fault = (FIXTURES / "onvif/easy_onvif/sunba/device_management.Fault.xml").read_bytes()
    result = decode_payload(VENDORS["onvif"], fault)
    assert result.events == [] and "a SOAP Fault, not events" in notes_of(result)


def test_read_http_capture_leaves_a_bare_body_alone() -> None:
    log = CaptureLog()
    assert read_http_capture(b"--boundary\r\nbody", log) == ({}, b"--boundary\r\nbody")
    headers, body = read_http_capture(b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nhi", log)
    assert (headers, body) == ({"content-type": "text/plain"}, b"hi")
    bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot chunks"
    assert read_http_capture(bad, log)[1] == b"not chunks"
    assert [note.kind for note in log.notes] == ["malformed"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vendor=st.sampled_from(sorted(VENDORS)),
    payload=st.one_of(
        st.binary(max_size=400),
        st.text(alphabet='<>{}[]-:;="\r\n Code=actionHTTP/1.1boundary', max_size=300).map(
            str.encode
        ),
    ),
)
def test_decode_never_raises(vendor: str, payload: bytes) -> None:
    result = decode_payload(VENDORS[vendor], payload)
    assert all(isinstance(event, CameraEvent) for event in result.events)


# -- finding the vendor --------------------------------------------------------------------------


def test_only_decoding_vendors_decode() -> None:
    vendors: dict[str, CameraVendor] = {**VENDORS, "rtsp": GenericStreamVendor()}
    assert decoding_vendors(vendors) == ["dahua", "hikvision", "onvif"]
    assert find_decoder(vendors, "dahua") is VENDORS["dahua"]
    with pytest.raises(DecodeError, match="vendor 'rtsp' cannot decode .* dahua, hikvision, onvif"):
        find_decoder(vendors, "rtsp")
    with pytest.raises(DecodeError, match="no plugin provides vendor 'hikvisoin'"):
        find_decoder(vendors, "hikvisoin")


# -- the command ---------------------------------------------------------------------------------


def invoke(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["events", "decode", *args], input=stdin)


def test_the_command_prints_one_json_object_per_event() -> None:
    path = FIXTURES / "dahua/vto-rpc/VTO.eventList.examples.json"
    result = invoke("--vendor", "dahua", str(path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["kind"], line["bus_type"]) for line in lines] == [
        ("motion", "motion.start"),
        ("raw", "device.event"),
        ("raw", "device.event"),
    ]
    assert lines[0]["time"] == "2021-06-19T07:36:58+00:00"
    assert lines[1]["raw"]["data"]["Status"] == "Close"
    assert "unknown topic DoorStatus" in result.stderr
    assert "3 events from" in result.stderr


def test_the_command_reads_standard_input() -> None:
    alert = (FIXTURES / "hikvision/alert/HikSink.nvr.videoloss.active.xml").read_bytes()
    result = invoke("--vendor", "hikvision", "-", stdin=alert)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["bus_type"] == "video_loss"
    assert "1 event from standard input (hikvision)" in result.stderr


def test_a_malformed_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<EventNotificationAlert><eventType>VMD</eventType>")
    result = invoke("--vendor", "hikvision", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "skipped alert: not well-formed XML" in result.stderr
    assert "0 events from" in result.stderr and "1 part skipped as malformed" in result.stderr
    assert "Traceback" not in result.output


def test_an_unknown_vendor_lists_the_vendors_that_decode() -> None:
    path = FIXTURES / "hikvision/alert/HikSink.nvr.VMD.active.xml"
    result = invoke("--vendor", "hikvisoin", str(path))
    assert result.exit_code == 2
    assert "no plugin provides vendor 'hikvisoin'" in result.stderr
    assert "vendors that can decode: dahua, hikvision, onvif" in result.stderr
    result = invoke("--vendor", "rtsp", str(path))
    assert result.exit_code == 2 and "vendor 'rtsp' cannot decode" in result.stderr


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = invoke("--vendor", "onvif", str(tmp_path / "nothing.xml"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "nothing.xml" in result.stderr


def test_the_guide_shows_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = (
        dahua_wire.part(dahua_wire.record("VideoMotion", "Start", 0))
        + dahua_wire.part(dahua_wire.record("VideoMotionInfo", "State", 0))
        + dahua_wire.HEARTBEAT
        + dahua_wire.part(dahua_wire.record("VideoMotion", "Stop", 0))
    )
    (tmp_path / "attach.txt").write_bytes(capture)
    monkeypatch.chdir(tmp_path)
    result = invoke("--vendor", "dahua", "attach.txt")
    guide = (Path(__file__).resolve().parent.parent / "docs" / "vendors.md").read_text("utf-8")
    example = guide.split("$ pantau events decode --vendor dahua attach.txt\n", 1)[1]
    printed = result.stdout + result.stderr
    assert example.startswith(printed), f"docs/vendors.md should show:\n{printed}"
