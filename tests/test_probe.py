"""`pantau probe` and `pantau discover`: every step reported, failures in plain words."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.probe import probe_camera
from hub.registry import CameraRecord
from plugins.hikvision.camera import HikvisionVendor
from tests.plugin_kit import camera_record
from tests.plugins.hikvision.device import PASSWORD, USERNAME, FakeDevice, camera_answers, serve
from tests.plugins.hikvision.wire import alert, stream
from tests.test_running import free_port  # nothing listens on it once it is returned

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT / "tests" / "fixtures" / "media" / "car-detection.mp4"


def record(port: int, **options: object) -> CameraRecord:
    return camera_record(
        id="gerbang-timur",
        name="Gerbang Timur",
        vendor="hikvision",
        host="127.0.0.1",
        port=port,
        username=USERNAME,
        has_password=True,
        options=options,
    )


async def test_a_device_is_probed_step_by_step_and_a_dead_stream_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    device = camera_answers(FakeDevice())
    device.scripts = [[stream([alert("HikSink.cam.VMD.active")]), "hang"]]
    async with serve(device):
        camera = record(device.port, rtsp_port=free_port())
        # listening longer than a step may take: the events step gets its listening time
        report = await probe_camera(
            camera, PASSWORD, HikvisionVendor(), tmp_path, listen=2.5, step_timeout=2
        )
    steps = {step.name: step for step in report.steps}
    assert steps["device"].ok and "Hikvision" in steps["device"].detail
    assert steps["streams"].ok and report.streams
    assert steps["snapshot"].ok and steps["snapshot"].detail.startswith("JPEG 64x48")
    assert steps["events"].ok and "motion start" in steps["events"].detail
    assert steps["events"].detail.startswith("1 in 2.5 s")
    assert report.events and report.events[0]["kind"] == "motion"
    assert steps["stream"].ok is False and "refused" in steps["stream"].detail.lower()
    assert not report.ok
    text = json.dumps(report.as_dict(), default=str)
    assert PASSWORD not in text and PASSWORD not in caplog.text


async def test_wrong_credentials_fail_the_device_steps_without_showing_them(
    tmp_path: Path,
) -> None:
    device = camera_answers(FakeDevice(password="something-else"))
    async with serve(device):
        report = await probe_camera(
            record(device.port, rtsp_port=free_port()),
            PASSWORD,
            HikvisionVendor(),
            tmp_path,
            step_timeout=5,
        )
    device_step = next(step for step in report.steps if step.name == "device")
    assert device_step.ok is False and "AuthenticationFailed" in device_step.detail
    assert PASSWORD not in json.dumps(report.as_dict(), default=str)


def test_the_cli_probes_a_stream_camera_and_exits_by_its_result(tmp_path: Path) -> None:
    config = tmp_path / "city.yaml"
    config.write_text(
        f"""
hub:
  data_dir: {tmp_path / "var"}
owners:
  - {{id: dishub, name: Dinas Perhubungan, kind: opd}}
cameras:
  - {{id: rekaman, name: Rekaman, owner: dishub, url: "file://{FOOTAGE}"}}
  - {{id: mati, name: Mati, owner: dishub, url: "rtsp://127.0.0.1:{free_port()}/live"}}
""",
        encoding="utf-8",
    )
    runner = CliRunner()
    good = runner.invoke(main, ["probe", "rekaman", "-c", str(config)])
    assert good.exit_code == 0, good.output
    assert "stream" in good.output and "h264 768x432" in good.output
    assert "does not talk to the device itself" in good.output
    bad = runner.invoke(main, ["probe", "mati", "-c", str(config), "--json", "--timeout", "3"])
    assert bad.exit_code == 1
    stream_step = next(s for s in json.loads(bad.stdout)["steps"] if s["name"] == "stream")
    assert stream_step["ok"] is False and stream_step["detail"]
    missing = runner.invoke(main, ["probe", "nowhere", "-c", str(config)])
    assert missing.exit_code == 2 and "no camera with id 'nowhere'" in missing.output


def test_discover_reports_what_answered(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["discover", "--wait", "0.2", "--json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


def city(tmp_path: Path) -> Path:
    config = tmp_path / "city.yaml"
    config.write_text(f"hub:\n  data_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    return config


async def test_an_unregistered_camera_is_probed_by_vendor_and_url(tmp_path: Path) -> None:
    device = camera_answers(FakeDevice())
    device.scripts = [[stream([alert("HikSink.cam.VMD.active")]), "hang"]]
    async with serve(device):
        args = [
            "probe",
            "hikvision",
            f"http://127.0.0.1:{device.port}",
            "-c",
            str(city(tmp_path)),
            "--username",
            USERNAME,
            "-o",
            f"rtsp_port={free_port()}",
            "--listen",
            "1.5",
            "--timeout",
            "3",
            "--json",
        ]
        runner = CliRunner(env={"PANTAU_CAMERA_PASSWORD": PASSWORD})
        result = await asyncio.to_thread(runner.invoke, main, args)
    assert result.exit_code == 1, result.output  # nothing serves RTSP on rtsp_port
    report = json.loads(result.stdout)
    steps = {step["name"]: step for step in report["steps"]}
    assert report["vendor"] == "hikvision"
    assert steps["device"]["ok"] and "Hikvision" in steps["device"]["detail"]
    assert steps["snapshot"]["ok"] and steps["snapshot"]["detail"].startswith("JPEG 64x48")
    assert steps["events"]["ok"] and "motion start" in steps["events"]["detail"]
    assert steps["stream"]["ok"] is False
    assert PASSWORD not in result.output


async def test_credentials_in_the_url_are_used_and_never_printed(tmp_path: Path) -> None:
    device = camera_answers(FakeDevice())
    async with serve(device):
        url = f"http://{USERNAME}:{PASSWORD}@127.0.0.1:{device.port}"
        args = ["probe", "hikvision", url, "-c", str(city(tmp_path)), "--timeout", "3"]
        args += ["-o", f"rtsp_port={free_port()}"]
        result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert "Hikvision" in result.output and PASSWORD not in result.output
    assert "FAILED" in result.output  # the stream step, only
    assert result.output.count("FAILED") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nikon", "10.0.0.5"], "no plugin provides vendor 'nikon' (known:"),
        (["hikvision", "10.0.0.5:99999"], "port must be between 1 and 65535"),
        (["hikvision", "not a host"], "neither a URL"),
        (["hikvision", "10.0.0.5", "-o", "chanel=2"], "chanel"),
        (["rekaman", "-u", "admin"], "go with VENDOR URL"),
    ],
)
def test_an_unregistered_probe_that_cannot_start_says_why(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["probe", *args, "-c", str(city(tmp_path))])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unregistered_stream_camera_is_probed_from_its_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["probe", "rtsp", f"file://{FOOTAGE}", "-c", str(city(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "h264 768x432" in result.output
