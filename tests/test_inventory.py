from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.config import Config
from hub.credentials import CredentialBox
from hub.inventory import ImportReport, InventoryError, RowError, import_cameras_csv
from hub.registry import CameraInput, CameraSource, OwnerInput, Registry, SiteInput
from hub.store import CameraRow, Database

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
DISHUB_CSV = FIXTURES / "dishub.csv"
PASAR_CSV = FIXTURES / "pasar-semicolon-bom.csv"

DISHUB_ERRORS = [
    RowError(5, "cam-1", "duplicate id 'cam-1' (first at line 2)"),
    RowError(6, "cam-5", "needs either url or host"),
    RowError(7, "cam-6", "lat must be between -90 and 90, got 191"),
    RowError(10, "cam-8", "no owner with id 'dishubb'"),
    RowError(11, None, "id is required"),
    RowError(12, "cam-10", "port must be between 1 and 65535, got 99999"),
    RowError(13, "cam-11", "enabled must be yes or no, got 'mungkin'"),
    RowError(14, "alun-1", "camera 'alun-1' is declared in the config"),
    RowError(
        16,
        "cam-13",
        "url must start with one of rtsp://, rtsps://, http://, https://, file://, sim://",
    ),
    RowError(17, "cam-14", "lat and lon must be given together"),
    RowError(18, "cam-15", "owner is required"),
]


@pytest.fixture
async def registry(db: Database) -> Registry:
    registry = Registry(db, CredentialBox(keys=[CredentialBox.generate_key()]))
    config = Config.model_validate(
        {
            "owners": [{"id": "diskominfo", "name": "Diskominfo", "kind": "opd"}],
            "cameras": [
                {"id": "alun-1", "name": "Alun-alun", "owner": "diskominfo", "host": "10.0.0.5"}
            ],
        }
    )
    await registry.sync_from_config(config)
    await registry.add_owner(OwnerInput(id="dishub", name="Dishub Pati", kind="opd"))
    await registry.add_site(
        SiteInput(id="simpang-5", name="Simpang Lima", owner="dishub", lat=-6.756, lon=111.038)
    )
    return registry


async def test_good_rows_are_imported_and_every_bad_row_reported(registry: Registry) -> None:
    report = await import_cameras_csv(registry, DISHUB_CSV)
    assert report == ImportReport(
        imported=["cam-1", "cam-2", "cam-3", "cam-7"],
        updated=[],
        unchanged=[],
        errors=DISHUB_ERRORS,
        ignored_columns=[],
    )
    assert str(report.errors[2]) == "line 7: lat must be between -90 and 90, got 191"
    assert report.summary() == "4 imported, 0 updated, 0 unchanged, 11 bad rows"

    cameras = {camera.id: camera for camera in await registry.list_cameras()}
    assert set(cameras) == {"alun-1", "cam-1", "cam-2", "cam-3", "cam-7"}
    first = cameras["cam-1"]
    assert (first.source, first.vendor, first.site, first.port, first.tags, first.enabled) == (
        CameraSource.IMPORT,
        "hikvision",
        "simpang-5",
        554,
        ("traffic", "junction"),
        True,
    )
    assert (first.lat, first.lon) == (-6.7559, 111.038)
    assert cameras["cam-3"].name == "Jl. Sudirman, depan pasar"
    assert cameras["cam-3"].enabled is False
    assert cameras["cam-7"].name == "Terminal Pati"
    # The config camera is left exactly as the config declared it.
    assert cameras["alun-1"].source is CameraSource.CONFIG
    assert cameras["alun-1"].name == "Alun-alun"


async def test_credentials_are_split_out_of_urls_and_encrypted(
    registry: Registry, db: Database
) -> None:
    await import_cameras_csv(registry, DISHUB_CSV)
    second = await registry.get_camera("cam-2")
    assert second is not None
    assert second.url == "rtsp://10.20.0.12:554/Streaming/Channels/101"
    assert (second.username, second.has_password) == ("operator", True)
    assert await registry.camera_password("cam-2") == "rahasia-dua"
    assert await registry.camera_password("cam-1") == "rahasia-satu"
    async with db.session() as session:
        stored = list(await session.scalars(select(CameraRow.password_encrypted)))
    assert not any(token and "rahasia" in token for token in stored)


async def test_passwords_never_reach_the_report_or_the_log(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        report = await import_cameras_csv(registry, DISHUB_CSV)
    assert "rahasia" not in repr(report)
    assert "rahasia" not in caplog.text


async def test_importing_the_same_file_twice_changes_nothing(registry: Registry) -> None:
    await import_cameras_csv(registry, DISHUB_CSV)
    before = await registry.list_cameras()
    again = await import_cameras_csv(registry, DISHUB_CSV)
    assert (again.imported, again.updated) == ([], [])
    assert again.unchanged == ["cam-1", "cam-2", "cam-3", "cam-7"]
    assert again.errors == DISHUB_ERRORS
    assert await registry.list_cameras() == before


async def test_changed_rows_are_updated(registry: Registry, tmp_path: Path) -> None:
    await import_cameras_csv(registry, DISHUB_CSV)
    changed = tmp_path / "dishub.csv"
    text = DISHUB_CSV.read_text()
    text = text.replace("Simpang Lima utara", "Simpang Lima utara (baru)")
    text = text.replace("rahasia-dua", "rahasia-baru")
    changed.write_text(text)
    report = await import_cameras_csv(registry, changed)
    assert report.updated == ["cam-1", "cam-2"]
    assert report.unchanged == ["cam-3", "cam-7"]
    camera = await registry.get_camera("cam-1")
    assert camera is not None and camera.name == "Simpang Lima utara (baru)"
    assert await registry.camera_password("cam-2") == "rahasia-baru"


async def test_missing_columns_leave_stored_values_alone(
    registry: Registry, tmp_path: Path
) -> None:
    await import_cameras_csv(registry, DISHUB_CSV)
    short = tmp_path / "short.csv"
    short.write_text("id,name,owner,host\ncam-1,Simpang Lima utara,dishub,10.20.0.11\n")
    report = await import_cameras_csv(registry, short)
    assert report.unchanged == ["cam-1"]
    camera = await registry.get_camera("cam-1")
    assert camera is not None and camera.vendor == "hikvision" and camera.port == 554
    assert await registry.camera_password("cam-1") == "rahasia-satu"


async def test_semicolon_file_with_bom_and_decimal_commas(registry: Registry) -> None:
    report = await import_cameras_csv(registry, PASAR_CSV)
    assert report == ImportReport(
        imported=["psr-1", "psr-2"],
        errors=[RowError(4, "psr-3", "lon must be a number, got 'abc'")],
        ignored_columns=["keterangan"],
    )
    first = await registry.get_camera("psr-1")
    second = await registry.get_camera("psr-2")
    assert first is not None and second is not None
    assert (first.name, first.lat, first.lon, first.has_password) == (
        "Pasar Puri, pintu utara",
        -6.7512,
        111.0401,
        True,
    )
    assert second.tags == ("pasar", "parkir")
    assert not second.has_password


async def test_default_owner_fills_empty_owner_cells(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "no-owner.csv"
    path.write_text("id,name,host,owner\ncam-a,A,10.0.0.1,\ncam-b,B,10.0.0.2,diskominfo\n")
    report = await import_cameras_csv(registry, path, default_owner="dishub")
    assert report.imported == ["cam-a", "cam-b"]
    owners = {c.id: c.owner for c in await registry.list_cameras() if c.id.startswith("cam-")}
    assert owners == {"cam-a": "dishub", "cam-b": "diskominfo"}
    without_column = tmp_path / "no-owner-column.csv"
    without_column.write_text("id,name,host\ncam-c,C,10.0.0.3\n")
    with pytest.raises(InventoryError, match="no owner column"):
        await import_cameras_csv(registry, without_column)
    report = await import_cameras_csv(registry, without_column, default_owner="dishub")
    assert report.imported == ["cam-c"]


async def test_rows_of_api_cameras_are_not_taken_over(registry: Registry, tmp_path: Path) -> None:
    await registry.add_camera(
        CameraInput(id="cam-1", name="By hand", owner="dishub", host="10.9.9.9")
    )
    report = await import_cameras_csv(registry, DISHUB_CSV)
    assert RowError(2, "cam-1", "camera 'cam-1' was added through the API") in report.errors
    camera = await registry.get_camera("cam-1")
    assert camera is not None and camera.name == "By hand"


async def test_too_many_values_in_a_row(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "unquoted.csv"
    path.write_text("id,name,owner,host\ncam-a,Jl. Pemuda, depan,dishub,10.0.0.1\n")
    report = await import_cameras_csv(registry, path)
    assert report.errors == [
        RowError(
            2,
            "cam-a",
            "has 5 values but the header has 4 columns;"
            " does a value with a separator in it miss its quotes?",
        )
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"name,owner,host\nA,dishub,h\n", "the header has no id column"),
        (b"id,name,owner\na,A,dishub\n", "needs a url or a host column"),
        (b"id,name,name,host\n", "column name appears twice"),
        (b"id,name,host\n\xff\xfe,x,y\n", "is not UTF-8"),
    ],
)
async def test_files_that_cannot_be_imported_at_all(
    registry: Registry, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InventoryError, match=message):
        await import_cameras_csv(registry, path, default_owner="dishub")


async def test_progress_bar_goes_to_stderr(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cameras.csv"
    shutil.copyfile(DISHUB_CSV, path)
    await import_cameras_csv(registry, path, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cameras.csv" in captured.err and "15/15" in captured.err
    await import_cameras_csv(registry, path)
    assert capsys.readouterr().err == ""


async def test_secret_in_a_password_column_is_not_trimmed(
    registry: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "spaces.csv"
    path.write_text('id,name,owner,host,password\ncam-a,A,dishub,10.0.0.1," pw "\n')
    await import_cameras_csv(registry, path)
    assert await registry.camera_password("cam-a") == " pw "


async def test_a_url_column_replaces_a_stored_host(registry: Registry, tmp_path: Path) -> None:
    await import_cameras_csv(registry, DISHUB_CSV)
    path = tmp_path / "urls.csv"
    path.write_text("id,name,owner,url\ncam-1,Simpang Lima utara,dishub,rtsp://10.20.0.11/live\n")
    report = await import_cameras_csv(registry, path)
    assert report.updated == ["cam-1"]
    camera = await registry.get_camera("cam-1")
    assert camera is not None and (camera.url, camera.host) == ("rtsp://10.20.0.11/live", None)


async def test_the_examples_in_the_docs_import_cleanly(registry: Registry, tmp_path: Path) -> None:
    doc = (Path(__file__).parents[1] / "docs" / "inventory.md").read_text()
    blocks = [block.split("```")[0] for block in doc.split("```csv\n")[1:]]
    assert len(blocks) == 2
    comma, semicolon = tmp_path / "comma.csv", tmp_path / "semicolon.csv"
    comma.write_text(blocks[0])
    semicolon.write_text(blocks[1])
    first = await import_cameras_csv(registry, comma)
    assert (len(first.imported), first.errors) == (3, [])
    second = await import_cameras_csv(registry, semicolon)
    assert (second.unchanged, second.errors) == (["simpang-5-utara"], [])
