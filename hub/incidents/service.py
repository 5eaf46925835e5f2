"""Incidents inside the running hub: events in, incidents and alerts out, nothing lost.

Every event on the bus goes to the `IncidentEngine`; each decision becomes one outbox
transaction (the incident row, its history, its notification jobs) and an `incident.<action>`
event; the `DeliveryWorker` sends the jobs. The engine's state (open incidents, conditions being
timed, escalation plans) is written next to the store after every commit, so that a restart
carries on with the escalations it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hub.bus import Bus, Subscription
from hub.events import Event
from hub.incidents.acklink import AckLinks
from hub.incidents.delivery import DeliveryWorker
from hub.incidents.lifecycle import (
    Decision,
    Escalate,
    Incident,
    IncidentEngine,
    Notify,
    Open,
    Update,
)
from hub.incidents.outbox import Outbox
from hub.incidents.plan import AlertLayout, place_of, records
from hub.incidents.routing import Roster
from hub.incidents.rules import CameraFacts
from hub.incidents.spool import Spool

if TYPE_CHECKING:
    from hub.config import Config
    from hub.registry import CameraRecord

log = logging.getLogger(__name__)

QUEUE = 20_000
"""Events the engine may fall behind by before the bus drops the oldest (and counts them)."""
SPOOL_KEEP = timedelta(days=1)
"""Snapshots no pending job needs are deleted after this long."""
PRUNE_EVERY = 120
"""Ticks between spool prunings (ten minutes)."""
TICK = 5.0
DRAIN = 5.0
"""Seconds the stop waits for queued events to be handled."""
"""Seconds between the engine's ticks: escalation steps, durations, group summaries."""


def _now() -> datetime:
    return datetime.now(UTC)


class IncidentService:
    """The incident engine, the outbox and the delivery worker, run together."""

    def __init__(
        self,
        config: Config,
        bus: Bus,
        outbox: Outbox,
        cameras: Callable[[], Awaitable[list[CameraRecord]]],
        state_path: Path,
        *,
        worker: DeliveryWorker | None = None,
        snapshot: Callable[[str], Awaitable[bytes | None]] | None = None,
        clock: Callable[[], datetime] = _now,
        language: str | None = None,
        ack_links: AckLinks | None = None,
    ) -> None:
        self._settings = config.incident_settings()
        self._tz = ZoneInfo(config.hub.timezone)
        self._bus = bus
        self.outbox = outbox
        self.worker = worker or DeliveryWorker(outbox)
        self._cameras = cameras
        self._facts: dict[str, CameraFacts] = {}
        self._owner_names = {owner.id: owner.name for owner in config.owners}
        self.state_path = state_path
        self._snapshot = snapshot
        self.spool = Spool(state_path.parent / "spool")
        """The snapshots attached to alerts, by path (some Apprise services cannot attach
        from memory); pruned once no pending job needs them."""
        self._clock = clock
        self.ack_links = ack_links
        """Signs the acknowledge link at the end of each alert; None: alerts carry none."""
        self.language = language or config.hub.language
        self._sites = {site.id: site for site in config.sites}
        self._places: dict[str, str] = {}
        self.roster = Roster(self._settings.responders, self._tz)
        self._layout = AlertLayout(self._settings.alert_title, self._settings.alert_body)
        self.engine = self._load_engine()
        self._lock = asyncio.Lock()
        self._subscriptions: list[Subscription] = []
        self._ticker: asyncio.Task[None] | None = None

    # -- running

    async def start(self) -> None:
        """Learn the cameras, catch up with the store, follow the bus, tick, and deliver."""
        await self._refresh_cameras()
        await self._catch_up()
        self._subscriptions.append(
            self._bus.subscribe(
                "*",
                self._on_event,
                name="incidents",
                # stats are many and never an incident; the engine's own events come back here
                filter=lambda event: (
                    event.type != "stream.stats" and not event.type.startswith("incident.")
                ),
                maxsize=QUEUE,
            )
        )
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="incidents:tick")
        interrupted = await self.outbox.reclaim()
        if interrupted:
            log.warning("%d alerts were on their way when the hub stopped: resent", interrupted)
        await self.worker.start()

    async def stop(self) -> None:
        """Handle what is queued (a few seconds at most), stop following, stop delivering."""
        for subscription in self._subscriptions:
            # events published just before the stop are incidents too: not dropped
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN):
                    await subscription.wait_idle()
            await subscription.cancel()
        self._subscriptions.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.worker.stop()

    async def acknowledge(self, incident_id: str, by: str) -> bool:
        """`by` takes the incident on; its escalation stops. False if there is nothing to ack."""
        async with self._lock:
            decisions = self.engine.acknowledge(incident_id, by, self._clock())
            await self._commit(decisions)
        return bool(decisions)

    async def resolve(self, incident_id: str, by: str, reason: str = "resolved") -> bool:
        """The incident is over. False if the engine holds no such open incident."""
        async with self._lock:
            decisions = self.engine.resolve(incident_id, by, self._clock(), reason)
            await self._commit(decisions)
        return bool(decisions)

    # -- inside

    async def _catch_up(self) -> None:
        """Take from the store what the engine's saved state missed.

        Each change is committed to the store first and the engine's state saved after it, so
        a crash between the two leaves the store ahead: an incident opened, acknowledged or
        resolved that the saved state does not know. Without this, the next repeat would open
        a second incident (or a resolved one would keep escalating).
        """
        held = {incident.id: incident for incident in self.engine.incidents()}
        stored = await self.outbox.stored_states(held)
        caught = 0
        for incident_id, (state, data) in stored.items():
            mine = held.get(incident_id)
            if mine is not None and mine.state.value == state:
                continue
            if state == "resolved":
                self.engine.forget(incident_id)
            elif isinstance(data.get("incident"), dict):
                self.engine.adopt(Incident.from_dict(data["incident"]))
            else:
                continue  # stored before the store kept the whole incident
            caught += 1
        if caught:
            log.warning("incident engine caught up with %d changes the store had", caught)
            self._save_engine()

    def _camera(self, camera_id: str) -> CameraFacts | None:
        return self._facts.get(camera_id)

    async def _refresh_cameras(self) -> None:
        facts: dict[str, CameraFacts] = {}
        places: dict[str, str] = {}
        for camera in await self._cameras():
            site = self._sites.get(camera.site) if camera.site else None
            facts[camera.id] = CameraFacts(
                id=camera.id,
                name=camera.name,
                owner=camera.owner,
                site=camera.site,
                tags=tuple(camera.tags),
                owner_name=self._owner_names.get(camera.owner),
                site_name=site.name if site else None,
            )
            place = place_of(
                site.name if site else None,
                site.address if site else None,
                camera.lat if camera.lat is not None else (site.lat if site else None),
                camera.lon if camera.lon is not None else (site.lon if site else None),
            )
            if place is not None:
                places[camera.id] = place
        self._facts, self._places = facts, places

    async def _on_event(self, event: Event) -> None:
        if event.type in ("camera.added", "camera.updated", "camera.removed"):
            await self._refresh_cameras()
            return
        async with self._lock:
            await self._commit(self.engine.handle(event, self._clock()))

    async def _tick(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(TICK)
            try:
                async with self._lock:
                    await self._commit(self.engine.tick(self._clock()))
                ticks += 1
                if ticks % PRUNE_EVERY == 0:
                    await self._prune_spool()
            except Exception:  # a bad tick must not end escalations for good
                log.exception("incident tick failed")

    async def _commit(self, decisions: list[Decision]) -> None:
        if not decisions:
            return
        at = self._clock()
        events = []
        for decision in decisions:
            attachment = await self._picture(decision)
            for record in records(
                decision,
                self.roster,
                at,
                language=self.language,
                tz=self._tz,
                attachment=attachment,
                places=self._places,
                ack_link=self._ack_link(at),
                layout=self._layout,
            ):
                await self.outbox.record(
                    record.change,
                    record.incident_fields,
                    record.jobs,
                    cancel_pending_for=record.cancel_pending_for,
                )
                fields = record.incident_fields or {}
                events.append(
                    Event(
                        type=f"incident.{record.change.action}",
                        camera_id=fields.get("camera_id"),
                        data={
                            "incident_id": record.change.incident_id,
                            "by": record.change.by,
                            "state": fields.get("state"),
                            "severity": fields.get("severity"),
                            "title": fields.get("title"),
                            "jobs": len(record.jobs),
                            **record.change.data,
                        },
                    )
                )
        self._save_engine()
        for event in events:
            await self._bus.publish(event)

    def _ack_link(self, at: datetime) -> Callable[[str, str], str] | None:
        links = self.ack_links
        if links is None:
            return None
        return lambda incident_id, responder: links.link(incident_id, responder, at)

    async def _picture(self, decision: Decision) -> str | None:
        """The camera's latest snapshot, spooled, for a decision that alerts someone."""
        if self._snapshot is None or not isinstance(decision, Open | Update | Notify | Escalate):
            return None
        camera_id = decision.incident.camera_id
        if camera_id is None:
            return None
        try:
            jpeg = await self._snapshot(camera_id)
            if jpeg is None:
                return None
            return str(await self.spool.write(jpeg))
        except Exception:  # no picture is no reason to hold an alert back
            log.exception("could not spool the snapshot of %s", camera_id)
            return None

    async def _prune_spool(self) -> None:
        keep = await self.outbox.attachments_in_use()
        await self.spool.prune(keep, SPOOL_KEEP)

    def _load_engine(self) -> IncidentEngine:
        if self.state_path.exists():
            try:
                data = json.loads(self.state_path.read_text(encoding="utf-8"))
                engine = IncidentEngine.from_dict(
                    data,
                    self._settings,
                    timezone=self._tz,
                    cameras=self._camera,
                    language=self.language,
                )
                log.info("incident engine resumed with %d open", len(engine.incidents()))
                return engine
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("incident engine state unreadable, starting afresh: %s", exc)
        return IncidentEngine(
            self._settings, timezone=self._tz, cameras=self._camera, language=self.language
        )

    def _save_engine(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        state: dict[str, Any] = self.engine.to_dict()
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.state_path)
