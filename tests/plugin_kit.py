"""Builds throwaway plugins on disk, as built-ins, folder plugins or installed entry points;
and registry camera records for vendor plugins' tests."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.plugins import PluginHost
from hub.registry import CameraRecord, CameraSource


def manifest_toml(name: str, **fields: object) -> str:
    """A manifest with sensible defaults; `fields` override or add keys."""
    values: dict[str, object] = {"name": name, "version": "1.0.0", "kind": "core", **fields}
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list | tuple):
            items = ", ".join(f'"{v}"' for v in value)
            lines.append(f"{key} = [{items}]")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def write_plugin(root: Path, folder: str, code: str = "", manifest: str | None = None) -> Path:
    """Write `root/folder/__init__.py` and its manifest (None: a default manifest)."""
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    (path / "manifest.toml").write_text(
        manifest if manifest is not None else manifest_toml(folder), encoding="utf-8"
    )
    return path


@dataclass
class PluginLab:
    """A sandbox with a fake built-in package, a user plugin folder and a site dir for dists."""

    root: Path
    builtin_package: str
    added_paths: list[str] = field(default_factory=list)

    @property
    def builtins(self) -> Path:
        """The folder of the fake built-in package."""
        return self.root / "site" / self.builtin_package

    @property
    def folder(self) -> Path:
        """The user plugin folder."""
        return self.root / "custom"

    def builtin(self, name: str, code: str = "", manifest: str | None = None) -> Path:
        """Add a built-in plugin."""
        return write_plugin(self.builtins, name, code, manifest)

    def user(self, name: str, code: str = "", manifest: str | None = None) -> Path:
        """Add a plugin in the user plugin folder."""
        return write_plugin(self.folder, name, code, manifest)

    def installed(
        self, ep_name: str, module: str, code: str = "", manifest: str | None = None
    ) -> None:
        """Install a distribution (a real dist-info) whose entry point names `module`."""
        site = self.root / "site"
        write_plugin(
            site, module, code, manifest if manifest is not None else manifest_toml(ep_name)
        )
        dist = site / f"{module}_dist-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module}-dist\nVersion: 1.0\n", encoding="utf-8"
        )
        (dist / "entry_points.txt").write_text(
            f"[pantau.plugins]\n{ep_name} = {module}\n", encoding="utf-8"
        )

    def host(self, **kwargs: object) -> PluginHost:
        """A host over this lab's plugins, loaded."""
        kwargs.setdefault("plugin_dir", self.folder if self.folder.exists() else None)
        kwargs.setdefault("setup_timeout", 1.0)
        kwargs.setdefault("shutdown_timeout", 1.0)
        host = PluginHost(
            builtin_package=self.builtin_package,
            data_dir=self.root / "var",
            **kwargs,  # type: ignore[arg-type]
        )
        host.load()
        return host


def open_lab(tmp_path: Path) -> Iterator[PluginLab]:
    """Create a lab, put it on sys.path, and take every module it added away afterwards."""
    package = f"labplugins_{uuid.uuid4().hex[:8]}"
    lab = PluginLab(tmp_path, package)
    lab.builtins.mkdir(parents=True)
    (lab.builtins / "__init__.py").write_text("", encoding="utf-8")
    site = str(tmp_path / "site")
    sys.path.insert(0, site)
    before = set(sys.modules)
    try:
        yield lab
    finally:
        sys.path.remove(site)
        for name in set(sys.modules) - before:
            del sys.modules[name]
        import importlib

        importlib.invalidate_caches()


def camera_record(**fields: Any) -> CameraRecord:
    """A config camera as the registry gives it to a vendor; `fields` override the defaults."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "kamera",
        "name": "Kamera",
        "owner": "dishub",
        "site": None,
        "vendor": "rtsp",
        "url": None,
        "host": None,
        "port": None,
        "username": None,
        "has_password": False,
        "lat": None,
        "lon": None,
        "tags": (),
        "enabled": True,
        "options": {},
        "source": CameraSource.CONFIG,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return CameraRecord(**values)
