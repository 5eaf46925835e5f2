"""The alert's picture of a camera with privacy masks reaches the responder with them burned in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hub.config import Config
from hub.events import MotionStart
from hub.runtime import Hub
from hub.streams.privacy import FILL
from tests.incidents.receivers import WebhookReceiver
from tests.streams.conftest import CAR_VIDEO
from tests.streams.test_privacy import MASKS, decoded, regions


def city(tmp_path: Path, hook: str) -> Config:
    # no site: alerts of one site at the same moment are grouped into one
    camera: dict[str, Any] = {"owner": "dlh", "url": CAR_VIDEO.as_uri()}
    return Config.model_validate(
        {
            "hub": {"data_dir": str(tmp_path / "var"), "streams": {"keyframe_interval": 1.0}},
            "owners": [{"id": "dlh", "name": "Dinas Lingkungan Hidup", "kind": "opd"}],
            "cameras": [
                {
                    "id": "tpa-gerbang",
                    "name": "Gerbang TPA",
                    **camera,
                    "options": {"privacy_masks": MASKS},
                },
                {"id": "tpa-timbang", "name": "Jembatan Timbang", **camera},
            ],  # fmt: skip
            "responders": [{"id": "satpol-pp", "name": "Satpol PP", "channels": [hook]}],
            "rules": [
                {
                    "id": "gerak",
                    "events": ["motion.*"],
                    "severity": "high",
                    "title": "Gerak di {camera}",
                    "responders": ["satpol-pp"],
                }
            ],
        }
    )


async def test_the_alert_picture_of_a_masked_camera_is_masked(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    hub = Hub(city(tmp_path, receiver.url("json", "alert")))
    await hub.start()
    try:
        streams = hub.streams
        assert streams is not None
        async with asyncio.timeout(20):  # the file's first keyframe, through T2 into the cache
            for camera_id in ("tpa-gerbang", "tpa-timbang"):
                while streams.snapshot(camera_id) is None:  # noqa: ASYNC110 - the cache is polled
                    await asyncio.sleep(0.1)
        for camera_id in ("tpa-gerbang", "tpa-timbang"):
            await hub.bus.publish(MotionStart.create(camera_id=camera_id, data={"zone": "all"}))
        await receiver.wait_for(2)
        pictures = {}
        for hit in receiver.hits:
            (picture,) = hit.attachments.values()
            pictures[hit.title] = decoded(picture)
    finally:
        await hub.stop()
    masked = pictures["[TINGGI] Gerak di Gerbang TPA"]
    plain = pictures["[TINGGI] Gerak di Jembatan Timbang"]
    height, width = masked.shape
    inside, outside = regions(MASKS, width, height)
    assert abs(float(masked[inside].mean()) - FILL[0]) < 2 and masked[inside].std() < 2
    assert masked[outside].std() > 5  # the rest of the view is in the alert
    assert plain[inside].std() > 5  # the unmasked camera's alert shows all of it
