"""The running hub: the bus, the store, the registry and the plugins, started and stopped as one."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hub import __version__
from hub.audit import ANCHOR_FILE, AuditLog, AuditRecorder
from hub.bus import LocalBus
from hub.clips import ClipService, retention_problems
from hub.config import Config, secret_values
from hub.credentials import CredentialBox
from hub.devices import DeviceEvents
from hub.events import HubStarted, HubStopping, PluginFailed
from hub.incidents.acklink import AckLinks
from hub.incidents.outbox import Outbox
from hub.incidents.service import IncidentService
from hub.logs import redactor
from hub.masks import MaskLifts
from hub.plugins import PluginHost, PluginState
from hub.registry import Registry
from hub.sharing import ShareEverything, SharingPolicy, Use
from hub.sharing.policy import AgreementPolicy
from hub.store import Database
from hub.streams.engine import StreamEngine
from hub.streams.packages import AllowanceWatch
from hub.streams.privacy import privacy_problems
from hub.streams.usage import UsageLedger
from hub.streams.worker import EngineSettings
from hub.vendors import CameraVendor

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """Run the hub's main coroutine, on uvloop where it is installed.

    uvloop reads the cameras' sockets for less CPU: measured on 25 camera-like RTSP streams,
    Pantau's reader cost 0.12 % of a core per stream on uvloop against 0.15 % on asyncio's loop.
    """
    try:
        import uvloop
    except ImportError:  # Windows, or a trimmed install: asyncio's own loop works the same
        return asyncio.run(main)
    return uvloop.run(main)


class Hub:
    """One Pantau node on its embedded defaults: in-memory bus, SQLite or PostgreSQL, plugins."""

    def __init__(self, config: Config, *, safe_mode: bool = False) -> None:
        self.config = config
        settings = config.hub
        redactor.add(secret_values(config))
        self.data_dir = Path(settings.data_dir)
        self.bus = LocalBus()
        self.plugins = PluginHost(
            options={name: dict(opts) for name, opts in config.plugins.items()},
            plugin_dir=settings.plugin_dir,
            safe_mode=safe_mode or settings.safe_mode,
            setup_timeout=settings.plugin_setup_timeout,
            shutdown_timeout=settings.shutdown_timeout,
            data_dir=self.data_dir,
        )
        self.db = Database(settings.database_url_value())
        self._registry: Registry | None = None
        self.streams: StreamEngine | None = None
        self.devices: DeviceEvents | None = None
        self.incidents: IncidentService | None = None
        self._credentials: CredentialBox | None = None
        self._audit: AuditLog | None = None
        self.audit_recorder: AuditRecorder | None = None
        self.clips: ClipService | None = None
        """Clips cut for export, and the retention purge (hub/clips); once started."""
        self.masks: MaskLifts | None = None
        """Two-person privacy mask lifts (hub/masks); `masks.lifted(camera_id)`; once started."""
        self.sharing: SharingPolicy = ShareEverything()
        """Asked before any picture leaves the hub (hub/sharing)."""
        self.started_at: float | None = None
        self._loaded = False

    def load_plugins(self) -> None:
        """Discover and register plugins; must run before the web app is built."""
        if not self._loaded:
            self.plugins.load()
            self._loaded = True

    async def open_store(self) -> Registry:
        """Start the database and the registry; the key file is made here, never by `check`."""
        if self._registry is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            await self.db.start()
            credentials = self._credentials = CredentialBox.from_environment(self.data_dir)
            self._registry = Registry(self.db, credentials, self.bus)
            self._audit = AuditLog(self.db, credentials, anchor_file=self.data_dir / ANCHOR_FILE)
        return self._registry

    @property
    def audit(self) -> AuditLog:
        """The audit log (docs/audit.md); once the store is open."""
        if self._audit is None:
            raise RuntimeError("the store is not open yet")
        return self._audit

    @property
    def credentials(self) -> CredentialBox:
        """The key that encrypts camera passwords and channel URLs; once the store is open."""
        if self._credentials is None:
            raise RuntimeError("the store is not open yet")
        return self._credentials

    @property
    def registry(self) -> Registry:
        """The camera registry; available once the hub (or its store) has started."""
        if self._registry is None:
            raise RuntimeError("the store is not open yet")
        return self._registry

    @property
    def vendors(self) -> dict[str, CameraVendor]:
        """Camera vendors registered by plugins, by name."""
        return {name: reg.obj for name, reg in self.plugins.registered("camera_vendor").items()}

    def camera_problems(self) -> list[str]:
        """Cameras whose vendor is missing or rejects their settings, or whose masks are wrong."""
        problems: list[str] = []
        vendors = self.vendors
        for index, camera in enumerate(self.config.cameras):
            where = f"cameras[{index}] ({camera.id})"
            problems.extend(f"{where}: {problem}" for problem in privacy_problems(camera.options))
            problems.extend(f"{where}: {problem}" for problem in retention_problems(camera.options))
            vendor = vendors.get(camera.vendor)
            if vendor is None:
                known = ", ".join(sorted(vendors)) or "none"
                problems.append(
                    f"{where}: no plugin provides vendor {camera.vendor!r} (known: {known})"
                )
                continue
            problems.extend(f"{where}: {problem}" for problem in vendor.check_camera(camera))
        return problems

    async def start(self) -> None:
        """Start the bus and the store, sync the registry from the config, set up plugins."""
        self.load_plugins()
        await self.bus.start()
        await self.open_store()
        # Before the registry syncs: the cameras the config adds, changes or drops are recorded.
        self.audit_recorder = AuditRecorder(self.audit, self.bus, self.registry.get_camera)
        await self.audit_recorder.start()
        report = await self.registry.sync_from_config(self.config)
        await self.audit_recorder.config_loaded(self.config)
        log.info(
            "registry synced: %d added, %d updated, %d removed, %d conflicts",
            len(report.added),
            len(report.updated),
            len(report.removed),
            len(report.conflicts),
        )
        for problem in self.camera_problems():
            log.error(problem)
        sharing = self.config.hub.sharing
        policy = AgreementPolicy(
            self.db,
            self.bus,
            self.registry,
            default_opd=sharing.default_opd,
            default_private=sharing.default_private,
        )
        await policy.start()
        self.sharing = policy  # before plugins and alerts: every picture asks it
        await self.plugins.setup_all(self)
        registry = self.registry
        if self.config.rules:
            # Before anything that raises events: a camera already down at boot is an incident.
            self.incidents = IncidentService(
                self.config,
                self.bus,
                Outbox(self.db, self.credentials),
                registry.list_cameras,
                self.data_dir / "incidents" / "engine.json",
                snapshot=self._snapshot_jpeg,
                ack_links=self._ack_links(),
            )
            await self.incidents.start()
        if self.config.hub.streams.enabled:
            self.streams = self._stream_engine()
            await self.streams.start()
        # After the engine: lifts still in force from before a restart are handed to it.
        self.masks = MaskLifts(self.db, self.bus, self.audit, lambda: self.streams)
        await self.masks.start()
        self.clips = ClipService(
            self.db,
            registry,
            self.data_dir,
            retention_days=self.config.hub.retention_days,
            streams=lambda: self.streams,
        )
        await self.clips.start()
        self.devices = DeviceEvents(
            self.bus, registry.list_cameras, registry.camera_password, lambda: self.vendors
        )
        await self.devices.start()
        for record in self.plugins.all_records():
            if record.state in (PluginState.FAILED, PluginState.SKIPPED):
                await self.bus.publish(
                    PluginFailed.create(data={"plugin": record.name, "reason": record.reason})
                )
        self.started_at = time.monotonic()
        await self.bus.publish(HubStarted.create(data={"version": __version__}))

    def _ack_links(self) -> AckLinks:
        web = self.config.hub.web
        if web.public_url is None and web.host in ("0.0.0.0", "::"):  # noqa: S104 - a check
            log.warning(
                "hub.web.public_url is not set: acknowledge links in alerts point at %s, "
                "which responders' phones cannot reach",
                web.base_url(),
            )
        valid = timedelta(seconds=self.config.incident_settings().ack_link_valid)
        return AckLinks(self.credentials, web.base_url(), valid)

    async def stop(self) -> None:
        """Stop plugins in reverse order, then the bus and the store."""
        if self.bus_running:
            await self.bus.publish(HubStopping.create())
        if self.devices is not None:
            await self.devices.stop()
            self.devices = None
        if self.streams is not None and self.incidents is not None:
            await self.streams.flush_usage()  # a package used up just now is still an incident
        if self.incidents is not None:
            await self.incidents.stop()
            self.incidents = None
        if self.clips is not None:
            await self.clips.stop()
            self.clips = None
        if self.masks is not None:
            await self.masks.stop()
            self.masks = None
        if self.streams is not None:
            await self.streams.stop()
            self.streams = None
        await self.plugins.shutdown_all(self)
        if isinstance(self.sharing, AgreementPolicy):
            await self.sharing.stop()
        if self.audit_recorder is not None:
            await self.audit_recorder.stop()
            self.audit_recorder = None
        await self.bus.close()
        await self.db.close()
        self._registry = None
        self._audit = None
        self.started_at = None

    async def _snapshot_jpeg(self, camera_id: str) -> bytes | None:
        """A camera's latest JPEG from the keyframe cache (privacy masks burned in), for alerts.

        None when the camera's sharing agreement keeps its pictures in: the alert goes without.
        """
        snapshot = self.streams.snapshot(camera_id) if self.streams is not None else None
        if snapshot is None:
            return None
        camera = await self.registry.get_camera(camera_id)
        if camera is None:
            return None
        decision = await self.sharing.decide(camera, Use.ALERT_PICTURE)
        if not decision.allowed:
            log.info("alert of camera %s goes without a picture: %s", camera_id, decision.reason)
            return None
        return snapshot.jpeg

    def _stream_engine(self) -> StreamEngine:
        settings = self.config.hub.streams
        return StreamEngine(
            bus=self.bus,
            registry=self.registry,
            vendors=lambda: self.vendors,
            usage=UsageLedger(self.db, self.config.hub.timezone),
            allowances=AllowanceWatch(
                self.db,
                self.config.data_packages,
                self.config.hub.timezone,
                self.registry.list_cameras,
            ),
            data_dir=self.data_dir,
            settings=EngineSettings.from_config(settings),
            decode_threads=settings.decode_threads,
            health_window=settings.stats_interval,
        )

    @property
    def bus_running(self) -> bool:
        """Whether the bus accepts events."""
        return self.started_at is not None

    async def health(self) -> dict[str, Any]:
        """What `/api/health` answers: enough for a monitor to tell whether the hub is well."""
        plugin_counts = self.plugins.summary()
        bus_stats = self.bus.stats()
        cameras = await self.registry.list_cameras()
        failed = plugin_counts.get("failed", 0) + plugin_counts.get("skipped", 0)
        camera_health: dict[str, int] = {}
        if self.streams is not None:
            for state in self.streams.health().values():
                camera_health[state] = camera_health.get(state, 0) + 1
        return {
            "status": "ok" if failed == 0 else "degraded",
            "name": self.config.hub.name,
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started_at, 1) if self.started_at else 0.0,
            "plugins": plugin_counts,
            "cameras": len(cameras),
            "camera_health": camera_health,
            "bus": {
                "subscribers": len(bus_stats),
                "dropped": sum(s.dropped for s in bus_stats),
                "failed": sum(s.failed for s in bus_stats),
            },
        }
