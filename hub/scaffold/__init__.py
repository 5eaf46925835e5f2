"""`pantau plugin new NAME`: a third-party plugin package, written from the templates here.

The templates are package data (`hub/scaffold/<kind>/*.tmpl`), filled in with `string.Template`
(`${name}`, `${package}`, ...). What is written is a package that installs, loads into the hub
and passes its own test as it is, with a TODO wherever the author's device comes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from hub import __version__
from hub.manifest import MANIFEST_FILE
from hub.plugins import BUILTIN_PACKAGE

NAME_RULE = (
    "a plugin name is a lowercase Python identifier: a letter, then letters, digits or '_',"
    " at most 64 characters (such as 'mallcam' or 'sunrise_mall')"
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "vendor": (
        ("pyproject.toml.tmpl", "pyproject.toml"),
        ("README.md.tmpl", "README.md"),
        ("init.py.tmpl", "${package}/__init__.py"),
        ("manifest.toml.tmpl", f"${{package}}/{MANIFEST_FILE}"),
        ("vendor.py.tmpl", "${package}/vendor.py"),
        ("test_plugin.py.tmpl", "tests/test_${name}_plugin.py"),
    ),
}
"""Per kind of plugin: each template and the path it is written to, both filled in."""
KINDS = tuple(LAYOUTS)


class ScaffoldError(Exception):
    """The package cannot be written: a bad name, an existing folder, an unknown kind."""


@dataclass(frozen=True, slots=True)
class Scaffold:
    """A plugin package just written: where, and what it holds."""

    name: str
    package: str
    directory: Path
    files: tuple[Path, ...]

    def next_steps(self) -> str:
        """What the author does next, in order."""
        listing = "\n".join(f"  {path.relative_to(self.directory.parent)}" for path in self.files)
        steps = (
            (f"cd {self.directory}", ""),
            ("pip install -e '.[test]'", "beside Pantau: the entry point makes the hub find it"),
            ("pantau plugins", f"lists {self.name!r}, source 'entry point', state 'loaded'"),
            ("pytest", "the generated test passes as it is"),
        )
        width = max(len(command) for command, _ in steps) + 2
        commands = "\n".join(
            f"  {command.ljust(width)}# {why}" if why else f"  {command}" for command, why in steps
        )
        return (
            f"Wrote the vendor plugin {self.name!r} to {self.directory}:\n{listing}\n\n"
            f"Next:\n{commands}\n"
            f"Then fill in the TODOs in {self.package}/vendor.py, try a camera with\n"
            f"`pantau probe {self.name} HOST -u USER`, and read docs/plugin-authoring.md in Pantau."
        )


def check_name(name: str) -> None:
    """Raise `ScaffoldError` naming the rule when `name` cannot be a plugin's name."""
    if not _NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        hint = f"; did you mean {suggestion!r}?" if _NAME.match(suggestion) else ""
        raise ScaffoldError(f"{name!r} cannot be a plugin name: {NAME_RULE}{hint}")
    if name in builtin_plugins():
        raise ScaffoldError(
            f"{name!r} cannot be a plugin name: a built-in plugin has it, and a third-party"
            " plugin may not take a built-in's name"
        )


def builtin_plugins() -> set[str]:
    """The names of the plugins that ship with Pantau."""
    root = resources.files(BUILTIN_PACKAGE)
    return {entry.name for entry in root.iterdir() if entry.joinpath(MANIFEST_FILE).is_file()}


def scaffold(name: str, directory: Path | None = None, kind: str = "vendor") -> Scaffold:
    """Write a new plugin package named `name` into `directory` (default `./pantau-<name>`).

    Refuses an existing folder that is not empty rather than write over anything in it.
    """
    check_name(name)
    layout = LAYOUTS.get(kind)
    if layout is None:
        raise ScaffoldError(f"no template for kind {kind!r}; there is: {', '.join(KINDS)}")
    target = directory if directory is not None else Path(f"pantau-{name.replace('_', '-')}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists; give a new folder with --dir")
    values = {
        "name": name,
        "package": f"pantau_{name}",
        "distribution": f"pantau-{name.replace('_', '-')}",
        "cls": "".join(part.capitalize() for part in name.split("_")),
        "hub_version": __version__,
    }
    templates = resources.files("hub.scaffold").joinpath(kind)
    written = []
    for source, destination in layout:
        text = Template(templates.joinpath(source).read_text(encoding="utf-8"))
        path = target / Template(destination).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
        written.append(path)
    return Scaffold(name, values["package"], target, tuple(written))
