"""Privacy masks: burned into every snapshot before it is encoded, invisible to the checks."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from hub.registry import CameraInput
from hub.runtime import Hub
from hub.streams.motion import Polygon
from hub.streams.pictures import KeyframeDecoder, PictureChecks, snapshot_pictures
from hub.streams.privacy import (
    FILL,
    PrivacyMask,
    parse_privacy_masks,
    privacy_mask,
    privacy_problems,
)
from hub.vendorkit import option_typos
from tests.streams.conftest import RtspTestServer
from tests.streams.test_engine import city, of, running_hub
from tests.streams_pictures.media import read_units

WINDOW = [[0.65, 0.0], [1.0, 0.0], [1.0, 0.35], [0.65, 0.35]]
"""A house's window: a rectangle over the lot's top right, its lines and a dark car."""
YARD = [[0.3, 0.7], [0.7, 0.62], [0.72, 1.0], [0.32, 1.0]]
"""A yard: a slanted quadrilateral at the bottom, where white cars drive in."""
MASKS = [WINDOW, YARD]
MARGIN = 10
"""Pixels kept clear of a polygon's edge when judging inside and outside: JPEG blocks mix there."""

Pixels = npt.NDArray[np.uint8]
Where = npt.NDArray[np.bool_]


@pytest.fixture(scope="module")
def keyframes() -> list[av.VideoFrame]:
    """The footage's seven keyframes, decoded as T2 decodes them (768x432)."""
    info, units = read_units()
    decoder = KeyframeDecoder(info, "parkir")
    frames = [decoder.decode(unit) for unit in units if unit.keyframe]
    return [frame for frame in frames if frame is not None]


def mask_of(polygons: Sequence[Sequence[Sequence[float]]]) -> PrivacyMask:
    mask = privacy_mask({"privacy_masks": [list(map(list, p)) for p in polygons]})
    assert mask is not None
    return mask


def decoded(jpeg: bytes, pixel_format: str = "gray") -> Pixels:
    with av.open(io.BytesIO(jpeg), "r") as container:
        frame = next(container.decode(video=0))
        picture = frame.to_ndarray(format=pixel_format)
        assert picture.dtype == np.uint8
        return picture.astype(np.uint8, copy=False)


def _depth(polygon: Sequence[Sequence[float]], width: int, height: int) -> npt.NDArray[np.float64]:
    """How deep inside a convex polygon each pixel centre lies, in pixels (negative: outside).

    Worked out apart from the code under test: the least signed distance to the edges' lines.
    """
    corners = np.array([(x * width, y * height) for x, y in polygon], dtype=np.float64)
    xs, ys = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    (ax, ay), (bx, by) = corners[1] - corners[0], corners[2] - corners[1]
    turn = ax * by - ay * bx
    depth = np.full((height, width), np.inf)
    for start, end in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        dx, dy = end - start
        across = (dx * (ys - start[1]) - dy * (xs - start[0])) / np.hypot(dx, dy)
        depth = np.minimum(depth, across if turn > 0 else -across)
    return depth


def regions(
    polygons: Sequence[Sequence[Sequence[float]]], width: int, height: int
) -> tuple[Where, Where]:
    """Pixels well inside some polygon, and pixels well outside all of them."""
    depths = [_depth(polygon, width, height) for polygon in polygons]
    inside = np.logical_or.reduce([depth >= MARGIN for depth in depths])
    outside = np.logical_and.reduce([depth <= -MARGIN for depth in depths])
    return inside, outside


# --- the picture -------------------------------------------------------------------------------


def test_the_masked_areas_of_a_real_picture_are_flat_grey_and_the_rest_untouched(
    keyframes: list[av.VideoFrame],
) -> None:
    mask = mask_of(MASKS)
    for frame in keyframes:
        masked, _ = snapshot_pictures(frame, privacy=mask)
        plain, _ = snapshot_pictures(frame)
        grey, bare = decoded(masked), decoded(plain)
        assert grey.shape == (360, 640)
        inside, outside = regions(MASKS, 640, 360)
        assert inside.sum() > 0.15 * inside.size and outside.sum() > 0.3 * outside.size
        # what was there: the lot's asphalt, lines and cars, not a flat area by chance
        assert bare[inside].std() > 8
        # gone: one grey level, but for the JPEG's noise
        assert abs(float(grey[inside].mean()) - FILL[0]) < 2
        assert grey[inside].std() < 2
        assert np.abs(grey[inside].astype(np.int16) - FILL[0]).max() <= 8
        # elsewhere the very same picture: blocks away from the edges encode identically
        difference = np.abs(grey[outside].astype(np.int16) - bare[outside])
        assert difference.mean() < 0.05 and difference.max() <= 2


def test_the_fill_has_no_colour_left(keyframes: list[av.VideoFrame]) -> None:
    mask = mask_of(MASKS)
    jpeg, _ = snapshot_pictures(keyframes[1], privacy=mask)  # a white car on the road
    colour = decoded(jpeg, "rgb24").astype(np.int16)
    inside, _ = regions(MASKS, 640, 360)
    red, green, blue = (colour[..., channel][inside] for channel in range(3))
    assert np.abs(red - green).max() <= 6 and np.abs(blue - green).max() <= 6
    assert abs(float(green.mean()) - FILL[0]) < 3


def test_every_pixel_the_polygon_touches_is_filled_a_pixel_wider() -> None:
    # a square from pixel 10.3 to 20.7 on a 40x40 picture: pixels 10 to 20 are cut or inside
    square: Polygon = ((10.3 / 40, 10.3 / 40), (20.7 / 40, 10.3 / 40),
                       (20.7 / 40, 20.7 / 40), (10.3 / 40, 20.7 / 40))  # fmt: skip
    covered = PrivacyMask([square]).covered(40, 40)
    rows, columns = np.nonzero(covered)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (9, 21, 9, 21)
    assert covered[9:22, 9:22].all()


def test_masks_at_the_edges_and_odd_sizes_fill_luma_and_chroma() -> None:
    whole: Polygon = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    rng = np.random.default_rng(7)
    picture = av.VideoFrame.from_ndarray(
        rng.integers(0, 255, (48, 34), dtype=np.uint8), format="yuvj420p"
    )  # 34x32: 32 rows of luma, then the two chroma planes
    PrivacyMask([whole]).burn(picture)
    assert (picture.to_ndarray() == FILL[0]).all()

    corner = PrivacyMask([((0.9, 0.9), (1.0, 0.9), (1.0, 1.0))])
    assert corner.covered(35, 21)[-1, -1]  # the last, odd row and column are reached
    frame = av.VideoFrame(35, 21, "yuv420p")  # lines padded past the width, chroma 18x11
    for plane in frame.planes:
        np.frombuffer(memoryview(plane), dtype=np.uint8)[:] = 0
    corner.burn(frame)
    for plane, value in zip(frame.planes, FILL, strict=True):
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
        pixels = rows.reshape(plane.height, plane.line_size)
        assert pixels[-1, plane.width - 1] == value  # the bottom right corner, in every plane
        assert pixels[0, 0] == 0


def test_the_callers_frame_is_not_burned(keyframes: list[av.VideoFrame]) -> None:
    # a picture already the JPEG's size and format is not copied by scaling: it must be here
    frame = keyframes[0].reformat(width=640, height=360, format="yuvj420p")
    before = frame.to_ndarray().copy()
    jpeg, _ = snapshot_pictures(frame, privacy=mask_of(MASKS))
    assert np.array_equal(frame.to_ndarray(), before)
    inside, _ = regions(MASKS, 640, 360)
    assert decoded(jpeg)[inside].std() < 2


def test_the_picture_checks_see_the_whole_view_whatever_the_mask(
    keyframes: list[av.VideoFrame],
) -> None:
    """A mask over all the view must not read as black (nor a big one as covered or moved)."""
    everything = [[0, 0], [1, 0], [1, 1], [0, 1]]
    mask = mask_of([everything])
    checks, seen_by_jpeg = PictureChecks("parkir"), PictureChecks("parkir")
    problems, jpeg_problems = [], []
    for index, frame in enumerate(keyframes):
        jpeg, grey = snapshot_pictures(frame, privacy=mask)
        _, bare_grey = snapshot_pictures(frame)
        assert grey is not None and bare_grey is not None
        assert np.array_equal(grey, bare_grey)  # the checks' picture is the unmasked one
        at = index * 4.8
        problems += checks.update(grey, at)
        # what judging the masked picture would have said: a camera with no picture
        shown = decoded(jpeg)[::2, ::2].copy()
        jpeg_problems += seen_by_jpeg.update(shown, at)
    assert problems == []
    assert [(p.kind, p.started) for p in jpeg_problems][:1] == [("black", True)]


def test_masking_costs_only_cameras_with_masks(keyframes: list[av.VideoFrame]) -> None:
    mask = mask_of(MASKS)
    frame = keyframes[0].reformat(width=1280, height=720)  # a 720p camera's keyframe
    snapshot_pictures(frame, privacy=mask)  # the raster is made once per picture size
    picture = frame.reformat(width=640, height=360, format="yuvj420p")
    started = time.perf_counter()
    for _ in range(50):
        mask.burn(picture)
    per_picture = (time.perf_counter() - started) / 50
    assert per_picture < 0.005  # measured: about 0.2 ms at 640x360, 0.7 ms at 1280x720


# --- the configuration --------------------------------------------------------------------------


def test_privacy_masks_parse_like_motion_masks() -> None:
    assert parse_privacy_masks([]) == []
    assert parse_privacy_masks([[[0, 0], [1, 0], [0.5, 1]]]) == [
        ((0.0, 0.0), (1.0, 0.0), (0.5, 1.0))
    ]
    assert privacy_mask({}) is None
    assert privacy_mask({"privacy_masks": []}) is None
    mask = privacy_mask({"privacy_masks": MASKS, "masks": [WINDOW], "zones": []})
    assert mask is not None and len(mask.polygons) == 2


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"privacy_masks": {"polygon": WINDOW}},
         "options.privacy_masks must be a list of polygons, not dict"),
        ({"privacy_masks": [WINDOW, {"polygon": YARD}]},
         "options.privacy_masks[1] must be the polygon itself, a list of [x, y] corners,"
         " not a mapping"),
        ({"privacy_masks": [WINDOW, [[0, 0], [1, 0]]]},
         "options.privacy_masks[1] needs at least 3 corners, has 2"),
        ({"privacy_masks": [[[0, 0], [1, 0], [1.2, 1]]]},
         "options.privacy_masks[0]: corner (1.2, 1.0) is outside 0..1 (normalized coordinates)"),
        ({"privacy_masks": [[[0, 0], [1, 0], ["x", 1]]]},
         "options.privacy_masks[0]: corner 2 must be [x, y] numbers, not ['x', 1]"),
        ({"privacy_masks": [[[0, 0], [1, 0], [True, 1]]]},
         "options.privacy_masks[0]: corner 2 must be [x, y] numbers, not [True, 1]"),
        ({"privacy_mask": [WINDOW]},
         "unknown option 'privacy_mask' (did you mean 'privacy_masks'?)"),
        ({"privacy-masks": [WINDOW]},
         "unknown option 'privacy-masks' (did you mean 'privacy_masks'?)"),
    ],
)  # fmt: skip
def test_a_bad_privacy_mask_says_which_polygon_and_what_is_wrong(
    options: dict[str, Any], problem: str
) -> None:
    assert privacy_problems(options) == [problem]
    with pytest.raises(ValueError) as raised:
        privacy_mask(options)
    assert str(raised.value) == problem


def test_no_vendor_takes_privacy_masks_for_a_misspelt_option_of_its_own() -> None:
    from plugins.dahua.options import OPTIONS as DAHUA
    from plugins.hikvision.options import OPTIONS as HIKVISION
    from plugins.onvif.vendor import TEXT_OPTIONS as ONVIF
    from plugins.sim.camera import OPTIONS as SIM

    for known in (DAHUA, HIKVISION, ONVIF, SIM, ("kind", "snapshot_interval", "tls_verify")):
        assert option_typos({"privacy_masks": MASKS}, known) == []


# --- in the running hub -------------------------------------------------------------------------


async def _snapshot_of(hub: Hub, camera_id: str, within: float, after: float = 0.0) -> bytes:
    assert hub.streams is not None
    deadline = time.monotonic() + within
    while True:
        shot = hub.streams.snapshot(camera_id)
        if shot is not None and shot.at > after:
            return shot.jpeg
        assert time.monotonic() < deadline, f"no snapshot of {camera_id} in {within} s"
        await asyncio.sleep(0.1)


async def test_the_engine_caches_only_masked_pictures_of_a_masked_camera(
    rtsp_server: RtspTestServer, car_video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    masked_url = rtsp_server.add_mount("privacy-rumah", "file", path=str(car_video))
    plain_url = rtsp_server.add_mount("privacy-jalan", "file", path=str(car_video))
    cameras: list[dict[str, Any]] = [
        {"id": "rumah", "name": "Depan Rumah", "url": masked_url,
         "options": {"privacy_masks": MASKS}},
        {"id": "jalan", "name": "Jalan Raya", "url": plain_url},
        {"id": "rusak", "name": "Gang Sempit", "url": plain_url,
         "options": {"privacy_masks": [WINDOW, [[0, 0], [1, 0]]]}},
    ]  # fmt: skip
    config = city(tmp_path, cameras)
    caplog.set_level(logging.ERROR, logger="hub.streams.engine")
    async with running_hub(config) as (hub, events):
        # a bad mask is found by `pantau check` and at start, and the camera is not watched:
        # no picture at all rather than one without its mask
        problem = "cameras[2] (rusak): options.privacy_masks[1] needs at least 3 corners, has 2"
        assert hub.camera_problems() == [problem]
        assert hub.streams is not None
        assert "rusak" not in hub.streams.workers
        assert "cannot watch camera Gang Sempit: options.privacy_masks[1]" in caplog.text
        await events.wait_for(of("camera.online", "rumah"), within=15)

        masked = decoded(await _snapshot_of(hub, "rumah", within=20))
        plain = decoded(await _snapshot_of(hub, "jalan", within=20))
        assert masked.shape == plain.shape == (360, 640)
        inside, outside = regions(MASKS, 640, 360)
        assert abs(float(masked[inside].mean()) - FILL[0]) < 2 and masked[inside].std() < 2
        assert masked[outside].std() > 5  # the rest of the view is there
        assert plain[inside].std() > 8  # the camera without a mask is untouched

        # a mask added to a watched camera: its old, bare picture goes at once
        await hub.registry.add_camera(
            CameraInput(id="toko", name="Toko Sudut", owner="dishub", url=plain_url)
        )
        await _snapshot_of(hub, "toko", within=20)
        changed_at = time.time()
        await hub.registry.update_camera("toko", options={"privacy_masks": MASKS})
        await events.wait_for(of("camera.updated", "toko"), within=5)
        await asyncio.sleep(0.2)  # the engine restarts the camera on the same event
        shot = hub.streams.snapshot("toko")
        assert shot is None or shot.at > changed_at
        again = decoded(await _snapshot_of(hub, "toko", within=20, after=changed_at))
        assert again[inside].std() < 2
    rtsp_server.remove_mount("privacy-rumah")
    rtsp_server.remove_mount("privacy-jalan")
