"""`pantau plugin new`, and the done-criterion of the plugin tools: a third-party plugin package
(the template, and a freshly scaffolded one) installs into a fresh virtual environment with pip
and `pantau plugins` there lists it as loaded from its entry point."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata, resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from packaging.version import Version

from hub.cli import main
from hub.scaffold import KINDS, LAYOUTS, ScaffoldError, scaffold

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "plugin-template"
BUILD_LEFTOVERS = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".pytest_cache")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["plugin", "new", *args])


def run(command: list[str], cwd: Path, log: Path, timeout: float = 120) -> str:
    """Run `command` with its output in the file `log`; its output, asserting it succeeded."""
    env = {
        **os.environ,
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    env.pop("PYTHONPATH", None)
    with log.open("wb") as out:
        done = subprocess.run(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout
        )
    text = log.read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{text}"
    return text


def test_a_generated_plugin_passes_its_own_test(tmp_path: Path) -> None:
    made = scaffold("mallcam", tmp_path / "pantau-mallcam")
    assert made.package == "pantau_mallcam"
    assert sorted(p.relative_to(made.directory).as_posix() for p in made.files) == [
        "README.md",
        "pantau_mallcam/__init__.py",
        "pantau_mallcam/manifest.toml",
        "pantau_mallcam/vendor.py",
        "pyproject.toml",
        "tests/test_mallcam_plugin.py",
    ]
    project = tomllib.loads((made.directory / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pantau.plugins"] == {"mallcam": "pantau_mallcam"}
    vendor = (made.directory / "pantau_mallcam" / "vendor.py").read_text(encoding="utf-8")
    for method in ("check_camera", "stream_source", "connect", "discover", "device_info"):
        assert f"def {method}(" in vendor
    assert vendor.count("TODO") >= 10 and "$" not in vendor
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    output = run(command, made.directory, tmp_path / "pytest.log")
    assert "4 passed" in output


def test_the_command_says_what_to_do_next(tmp_path: Path) -> None:
    result = invoke("sunrise_mall", "--dir", str(tmp_path / "here"))
    assert result.exit_code == 0, result.output
    assert "Wrote the vendor plugin 'sunrise_mall'" in result.output
    assert "pip install -e '.[test]'" in result.output and "pantau plugins" in result.output
    assert (tmp_path / "here" / "pantau_sunrise_mall" / "vendor.py").is_file()


def test_the_default_folder_is_named_after_the_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("sunrise_mall").exit_code == 0
    assert (tmp_path / "pantau-sunrise-mall" / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Mall-Cam", "did you mean 'mall_cam'?"),
        ("2cam", "a letter, then letters, digits or '_'"),
        ("mall cam", "did you mean 'mall_cam'?"),
        ("x" * 65, "at most 64 characters"),
        ("onvif", "a built-in plugin has it"),
    ],
)
def test_a_bad_name_is_refused_with_the_rule(tmp_path: Path, name: str, said: str) -> None:
    result = invoke(name, "--dir", str(tmp_path / "plugin"))
    assert result.exit_code == 1
    assert f"Error: {name!r} cannot be a plugin name" in result.output and said in result.output
    assert not (tmp_path / "plugin").exists()


def test_an_existing_folder_is_never_written_over(tmp_path: Path) -> None:
    target = tmp_path / "pantau-mallcam"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    result = invoke("mallcam", "--dir", str(target))
    assert result.exit_code == 1
    assert f"Error: {target} already exists; give a new folder with --dir" in result.output
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold("mallcam", target / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("mallcam", "--dir", str(empty)).exit_code == 0


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ScaffoldError, match="no template for kind 'bridge'; there is: vendor"):
        scaffold("mallcam", Path("unused"), "bridge")


def test_the_templates_ship_in_the_package() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]["*"]
    for kind in KINDS:
        folder = resources.files("hub.scaffold").joinpath(kind)
        shipped = {entry.name for entry in folder.iterdir() if entry.is_file()}
        assert shipped == {source for source, _ in LAYOUTS[kind]}
        for name in shipped:
            assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} is not package data"


def fresh_environment(where: Path) -> Path:
    """A new virtual environment that sees Pantau and its dependencies without a network.

    `--system-site-packages` would not do: the test runs in a virtual environment itself, and a
    venv made from its interpreter takes the base interpreter's packages as the system's, not
    this environment's. So a `.pth` file puts this checkout and this environment's
    site-packages on the new one's path, after its own site-packages. The new environment has
    no pip of its own (faster); this environment's pip installs into it with `--python`.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=60
    )
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    here = sysconfig.get_paths()
    paths = dict.fromkeys([str(ROOT), here["purelib"], here["platlib"]])
    Path(purelib, "pantau-dev.pth").write_text("\n".join(paths) + "\n", encoding="utf-8")
    return python


def test_plugins_install_into_a_fresh_environment_and_the_hub_lists_them(tmp_path: Path) -> None:
    if Version(metadata.version("setuptools")) < Version("70.1"):
        pytest.fail("building plugins without isolation needs setuptools>=70.1: run make install")
    template = tmp_path / "pantau-sunrise-mall"
    shutil.copytree(TEMPLATE, template, ignore=BUILD_LEFTOVERS)
    scaffolded = scaffold("parkcam", tmp_path / "pantau-parkcam").directory
    python = fresh_environment(tmp_path / "venv")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    pip += ["--no-build-isolation", "--no-index", str(template), str(scaffolded)]
    run(pip, tmp_path, tmp_path / "pip.log")

    listing = run(
        [str(python), "-m", "hub.cli", "plugins", "--json"], tmp_path, tmp_path / "plugins.json"
    )
    records = {r["name"]: r for r in json.loads(listing)}
    assert records["sunrise_mall"]["origin"] == "pantau_sunrise_mall (pantau-sunrise-mall)"
    assert records["parkcam"]["origin"] == "pantau_parkcam (pantau-parkcam)"
    for name in ("sunrise_mall", "parkcam"):
        assert records[name]["source"] == "entry point"
        assert records[name]["state"] == "loaded", records[name]["reason"]
        assert records[name]["registered"]["camera_vendor"] == [name]
    installed = run(
        [str(python), "-c", "import pantau_sunrise_mall as p, pantau_parkcam as q; print(p, q)"],
        tmp_path,
        tmp_path / "import.log",
    )
    assert installed.count(str(tmp_path / "venv")) == 2

    # The template's own tests pass inside the installed copy, as an author runs them.
    tests = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    assert " passed" in run(tests, template, tmp_path / "template-tests.log")
