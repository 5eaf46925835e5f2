"""The `pantau` command as an operator uses it: check, schema, plugins, cameras."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hub.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small city config in an empty working folder."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "city.yaml"
    config.write_text(
        """
hub: {data_dir: var}
owners:
  - {id: dishub, name: Dishub Kota Mojokerto, kind: opd}
  - {id: diskominfo, name: Diskominfo, kind: opd}
sites:
  - {id: simpang-5, name: Simpang Lima, owner: dishub, lat: -7.47, lon: 112.43}
cameras:
  - id: alun-1
    name: Alun-alun
    owner: diskominfo
    url: rtsp://10.0.0.5/ch1
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("name", ["pati.yaml", "mojokerto.yaml", "demo.yaml"])
def test_examples_pass_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(EXAMPLES / "secrets.example.yaml", tmp_path / "secrets.yaml")
    monkeypatch.chdir(tmp_path)
    result = invoke("check", name)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{name}: ok (")
    # checking starts nothing and writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "secrets.yaml"])


def test_check_reports_every_problem_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(
        """owners:
  - {id: dishub, name: Dishub, kind: opd}
cameras:
  - id: c1
    name: One
    owner: dishub
    url: rtsp://10.0.0.1/a
    lat: 191
    lon: 112
  - id: c2
    name: Two
    owner: dishubb
    url: rtsp://10.0.0.2/a
""",
        encoding="utf-8",
    )
    result = invoke("check", "bad.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "bad.yaml:8: cameras[0].lat: must be between -90 and 90, got 191",
        "bad.yaml:12: cameras[1].owner: no owner with id 'dishubb'",
        "2 problems in bad.yaml",
    ]


def test_check_names_unknown_vendor(city: Path) -> None:
    city.write_text(
        city.read_text().replace("    url: rtsp", "    vendor: hikvisoin\n    url: rtsp")
    )
    result = invoke("check", str(city))
    assert result.exit_code == 2
    assert f"{city}: cameras[0] (alun-1): no plugin provides vendor 'hikvisoin' (known: " in (
        result.stderr
    )


def test_config_schema_is_json_schema() -> None:
    result = invoke("config", "schema")
    schema = json.loads(result.stdout)
    assert {"hub", "owners", "sites", "cameras", "responders", "rules", "plugins"} <= set(
        schema["properties"]
    )


def test_plugins_lists_builtins(city: Path) -> None:
    result = invoke("plugins", "-c", str(city), "--json")
    records = json.loads(result.stdout)
    rtsp = next(r for r in records if r["name"] == "rtsp")
    assert rtsp["source"] == "built-in" and rtsp["kind"] == "vendor"


def test_cameras_add_list_remove(city: Path) -> None:
    added = invoke(
        "cameras", "add", "-c", str(city), "--id", "simpang-timur", "--name", "Simpang timur",
        "--owner", "dishub", "--site", "simpang-5", "--url", "rtsp://10.1.1.1/ch1", "--tag", "atcs",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listing = json.loads(invoke("cameras", "list", "-c", str(city), "--json").stdout)
    assert {(c["id"], c["source"]) for c in listing} == {
        ("alun-1", "config"),
        ("simpang-timur", "api"),
    }
    refused = invoke("cameras", "remove", "alun-1", "-c", str(city))
    assert refused.exit_code == 1
    assert "declared in the config" in refused.stderr
    assert invoke("cameras", "remove", "simpang-timur", "-c", str(city)).exit_code == 0
    table = invoke("cameras", "list", "-c", str(city)).stdout
    assert "simpang-timur" not in table and table.strip().endswith("1 camera")


def test_cameras_add_explains_bad_input(city: Path) -> None:
    result = invoke(
        "cameras", "add", "-c", str(city), "--id", "x1", "--name", "X", "--owner", "dishub"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "url or host" in result.stderr


def test_cameras_import_reports_bad_rows_and_is_idempotent(city: Path) -> None:
    inventory = ROOT / "tests" / "fixtures" / "inventory" / "dishub.csv"
    first = invoke("cameras", "import", str(inventory), "-c", str(city), "--no-progress")
    assert first.exit_code == 1
    assert f"{inventory}:5: " in first.stderr  # a bad row, named by its line
    assert "rahasia" not in first.output  # passwords never printed
    summary = first.stdout.strip()
    imported = int(summary.split()[0])
    assert imported > 0
    second = invoke("cameras", "import", str(inventory), "-c", str(city), "--no-progress")
    assert second.stdout.strip().startswith(f"0 imported, 0 updated, {imported} unchanged")
    listing = json.loads(invoke("cameras", "list", "-c", str(city), "--json").stdout)
    assert len(listing) == imported + 1


def test_cameras_usage_report(city: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from hub.config import load_config
    from hub.runtime import Hub
    from hub.streams.usage import UsageLedger

    async def record() -> None:
        hub = Hub(load_config(city))
        await hub.open_store()
        ledger = UsageLedger(hub.db, "Asia/Jakarta")
        await ledger.add({"alun-1": 2_000_000_000}, at=datetime(2026, 11, 2, 3, tzinfo=UTC))
        await ledger.add({"alun-1": 1_000_000_000}, at=datetime(2026, 11, 3, 3, tzinfo=UTC))
        await hub.db.close()

    asyncio.run(record())
    result = invoke("cameras", "usage", "-c", str(city), "--month", "2026-11")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["alun-1", "2", "1.5", "GB", "3.0", "GB", "45.0", "GB"]
    assert lines[-1] == "all cameras: 3.0 GB in 2026-11"
    per_day = invoke(
        "cameras", "usage", "-c", str(city), "--month", "2026-11", "--camera", "alun-1"
    )
    assert "2026-11-02  2.0 GB" in per_day.stdout
    bad = invoke("cameras", "usage", "-c", str(city), "--month", "11/2026")
    assert bad.exit_code == 2 and "--month must look like 2026-11" in bad.stderr
