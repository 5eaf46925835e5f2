"""The plugin host: finds, validates, orders, registers and isolates plugins.

Built-in plugins (`plugins/<name>/`), entry-point plugins (group `pantau.plugins`) and folder
plugins (the config's `hub.plugin_dir`) all go through the same path. A plugin that fails at any
step is marked failed with its reason, its dependents are skipped, and the hub keeps running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import inspect
import logging
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
from packaging.version import Version

from hub import PROJECT, __version__, hookspecs
from hub.manifest import (
    MANIFEST_FILE,
    Manifest,
    ManifestError,
    manifest_from_dict,
    read_manifest,
    unmet_requirements,
)

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "pantau.plugins"
BUILTIN_PACKAGE = "plugins"
FOLDER_PACKAGE = "pantau_folder_plugins"

Register = Callable[..., None]
"""The callback a registry hook receives; its arguments are documented per hook."""

REGISTRY_HOOKS: dict[str, str] = {
    "register_camera_vendors": "camera_vendor",
    "register_owner_integrations": "owner_integration",
    "register_notification_channels": "notification_channel",
    "register_analyzers": "analyzer",
    "register_bridges": "bridge",
}


class PluginSource(StrEnum):
    """Where a plugin came from."""

    BUILTIN = "built-in"
    ENTRY_POINT = "entry point"
    FOLDER = "folder"


class PluginState(StrEnum):
    """Where a plugin is in its life."""

    LOADED = "loaded"
    RUNNING = "running"
    FAILED = "failed"
    SKIPPED = "skipped"
    DISABLED = "disabled"
    STOPPED = "stopped"


@dataclass(slots=True)
class PluginRecord:
    """What the host knows of one plugin: shown by `pantau plugins` and `/api/plugins`."""

    name: str
    source: PluginSource
    origin: str
    manifest: Manifest | None = None
    module: types.ModuleType | None = None
    state: PluginState = PluginState.LOADED
    reason: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, reason: str, state: PluginState = PluginState.FAILED) -> None:
        """Mark the plugin failed (or skipped/disabled) and log why, naming it."""
        self.state = state
        self.reason = reason
        level = logging.WARNING if state is PluginState.DISABLED else logging.ERROR
        log.log(level, "plugin %s: %s", state.value, reason, extra={"plugin": self.name})

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        manifest = self.manifest
        return {
            "name": self.name,
            "kind": manifest.kind.value if manifest else None,
            "version": manifest.version if manifest else None,
            "description": manifest.description if manifest else "",
            "source": self.source.value,
            "origin": self.origin,
            "state": self.state.value,
            "reason": self.reason,
            "dependencies": list(manifest.dependencies) if manifest else [],
            "registered": {k: list(v) for k, v in self.registered.items()},
        }


@dataclass(frozen=True, slots=True)
class Registration:
    """One thing a plugin registered: a camera vendor, a channel, an analyzer..."""

    kind: str
    name: str
    plugin: str
    obj: Any


@dataclass(frozen=True, slots=True)
class WebRoute:
    """A route a plugin registered, already placed under `/plugins/<plugin>/`."""

    plugin: str
    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]


class PluginContext:
    """What a plugin gets in `setup` and `shutdown`: its name, options, logger and tasks."""

    def __init__(self, name: str, options: dict[str, Any], data_dir: Path) -> None:
        self.name = name
        self.options = options
        self.data_dir = data_dir
        self.log = logging.LoggerAdapter(
            logging.getLogger(f"pantau.plugin.{name}"), {"plugin": name}
        )
        self._tasks: set[asyncio.Task[Any]] = set()

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a background task that the host cancels and awaits at shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("task %s crashed", task.get_name(), exc_info=task.exception())

    async def cancel_tasks(self, grace: float) -> None:
        """Cancel the plugin's tasks and wait for them, at most `grace` seconds."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                self.log.warning("task %s did not stop in %.1fs", task.get_name(), grace)


class PluginHost:
    """Loads every plugin, keeps each in its own exception barrier, and runs their hooks."""

    def __init__(
        self,
        *,
        options: dict[str, dict[str, Any]] | None = None,
        plugin_dir: Path | None = None,
        safe_mode: bool = False,
        setup_timeout: float = 30.0,
        shutdown_timeout: float = 5.0,
        data_dir: Path = Path("var"),
        builtin_package: str = BUILTIN_PACKAGE,
        entry_point_group: str = ENTRY_POINT_GROUP,
    ) -> None:
        self.options = options or {}
        self.plugin_dir = plugin_dir
        self.safe_mode = safe_mode
        self.setup_timeout = setup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.data_dir = data_dir
        self.builtin_package = builtin_package
        self.entry_point_group = entry_point_group
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.order: list[str] = []
        self.registrations: dict[str, dict[str, Registration]] = {
            k: {} for k in REGISTRY_HOOKS.values()
        }
        self.web_routes: list[WebRoute] = []
        self.contexts: dict[str, PluginContext] = {}
        self._rejected: list[PluginRecord] = []

    # -- discovery and loading -------------------------------------------------------------

    def load(self) -> None:
        """Discover, validate, import and order every plugin, then collect registrations."""
        for record, manifest_path, module_name in self._discover():
            self._load_one(record, manifest_path, module_name)
        self._apply_config()
        self._resolve_order()
        self._collect_registrations()

    def all_records(self) -> list[PluginRecord]:
        """Every plugin the host saw, including rejected duplicates, in a stable order."""
        return sorted([*self.records.values(), *self._rejected], key=lambda r: (r.name, r.origin))

    def _discover(self) -> Iterable[tuple[PluginRecord, Path | None, str]]:
        yield from self._discover_builtins()
        if self.safe_mode:
            log.warning("safe mode: only built-in plugins are loaded")
            return
        yield from self._discover_entry_points()
        if self.plugin_dir is not None:
            yield from self._discover_folder(self.plugin_dir)

    def _discover_builtins(self) -> Iterable[tuple[PluginRecord, Path | None, str]]:
        package = importlib.import_module(self.builtin_package)
        for root in getattr(package, "__path__", []):
            for folder in sorted(Path(root).iterdir()):
                if folder.is_dir() and (folder / "__init__.py").exists():
                    module_name = f"{self.builtin_package}.{folder.name}"
                    record = PluginRecord(folder.name, PluginSource.BUILTIN, module_name)
                    yield record, folder / MANIFEST_FILE, module_name

    def _discover_entry_points(self) -> Iterable[tuple[PluginRecord, Path | None, str]]:
        for ep in sorted(metadata.entry_points(group=self.entry_point_group), key=lambda e: e.name):
            origin = f"{ep.value} ({ep.dist.name if ep.dist else 'unknown distribution'})"
            record = PluginRecord(ep.name, PluginSource.ENTRY_POINT, origin)
            manifest_path = None
            try:
                module_name = ep.module
                spec = importlib.util.find_spec(module_name)
            except (ImportError, ValueError, AttributeError) as exc:
                record.fail(f"bad entry point {ep.value!r}: {type(exc).__name__}: {exc}")
                self._keep(record)
                continue
            if spec is not None and spec.submodule_search_locations:
                manifest_path = Path(next(iter(spec.submodule_search_locations))) / MANIFEST_FILE
            yield record, manifest_path, module_name

    def _discover_folder(self, plugin_dir: Path) -> Iterable[tuple[PluginRecord, Path | None, str]]:
        if not plugin_dir.is_dir():
            log.error("plugin folder %s does not exist", plugin_dir)
            return
        if FOLDER_PACKAGE not in sys.modules:
            package = types.ModuleType(FOLDER_PACKAGE)
            package.__path__ = []
            sys.modules[FOLDER_PACKAGE] = package
        search = sys.modules[FOLDER_PACKAGE].__path__
        if str(plugin_dir) not in search:
            search.append(str(plugin_dir))
        for folder in sorted(plugin_dir.iterdir()):
            if folder.is_dir() and (folder / "__init__.py").exists():
                record = PluginRecord(folder.name, PluginSource.FOLDER, str(folder))
                yield record, folder / MANIFEST_FILE, f"{FOLDER_PACKAGE}.{folder.name}"

    def _keep(self, record: PluginRecord) -> bool:
        """Add a record under its name, refusing a second plugin of the same name."""
        existing = self.records.get(record.name)
        if existing is None:
            self.records[record.name] = record
            return True
        if existing.source is PluginSource.BUILTIN:
            why = "a built-in plugin has this name; a third-party plugin may not replace it"
        else:
            why = f"the name is already taken by {existing.origin} ({existing.source.value})"
        record.fail(f"refused {record.origin}: {why}")
        self._rejected.append(record)
        return False

    def _load_one(self, record: PluginRecord, manifest_path: Path | None, module_name: str) -> None:
        manifest: Manifest | None = None
        if manifest_path is not None and manifest_path.exists():
            try:
                manifest = read_manifest(manifest_path)
            except ManifestError as exc:
                if self._keep(record):
                    record.fail(str(exc))
                return
        if not self._keep(record):
            return
        if manifest is not None:
            if not self._check_manifest(record, manifest, manifest_path):
                return
            record.manifest = manifest
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:  # any import failure isolates the plugin
            record.fail(f"import failed: {type(exc).__name__}: {exc}")
            return
        if manifest is None:
            raw = getattr(module, "MANIFEST", None)
            if not isinstance(raw, dict):
                record.fail(f"no {MANIFEST_FILE} beside the module and no MANIFEST dict in it")
                return
            try:
                manifest = manifest_from_dict(raw, f"{module_name}.MANIFEST")
            except ManifestError as exc:
                record.fail(str(exc))
                return
            if not self._check_manifest(record, manifest, None):
                return
            record.manifest = manifest
        try:
            self.pm.register(module, name=record.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            record.fail(f"bad hook implementation: {exc}")
            return
        unknown = [
            caller.name for caller in self.pm.get_hookcallers(module) or [] if caller.spec is None
        ]
        if unknown:
            self.pm.unregister(module)
            record.fail("unknown hook " + ", ".join(repr(n) for n in sorted(unknown)))
            return
        record.module = module

    def _check_manifest(self, record: PluginRecord, manifest: Manifest, where: Path | None) -> bool:
        expected = record.name
        if manifest.name != expected:
            place = f"its folder {expected!r}" if where else f"its entry point {expected!r}"
            record.fail(f"manifest name {manifest.name!r} does not match {place}")
            return False
        if manifest.essential and record.source is not PluginSource.BUILTIN:
            record.fail("only built-in plugins may be essential")
            return False
        if manifest.min_hub_version and Version(__version__) < Version(manifest.min_hub_version):
            record.fail(f"needs Pantau {manifest.min_hub_version} or newer (this is {__version__})")
            return False
        unmet = unmet_requirements(manifest)
        if unmet:
            record.fail("requirement not met: " + ", ".join(unmet))
            return False
        return True

    # -- configuration and ordering -------------------------------------------------------

    def _apply_config(self) -> None:
        for name, opts in self.options.items():
            record = self.records.get(name)
            if record is None:
                log.warning("options given for plugin %r, which is not installed", name)
                continue
            if opts.get("enabled", True) is False and record.state is PluginState.LOADED:
                if record.manifest is not None and record.manifest.essential:
                    log.warning(
                        "plugin is essential and cannot be disabled", extra={"plugin": name}
                    )
                else:
                    self._unregister(record)
                    record.fail("disabled in the config", PluginState.DISABLED)

    def _unregister(self, record: PluginRecord) -> None:
        if record.module is not None and self.pm.is_registered(record.module):
            self.pm.unregister(record.module)

    def _resolve_order(self) -> None:
        loaded = {n: r for n, r in self.records.items() if r.state is PluginState.LOADED}
        for record in loaded.values():
            assert record.manifest is not None  # noqa: S101 - loaded plugins have manifests
            missing = [d for d in record.manifest.dependencies if d not in self.records]
            if missing:
                self._unregister(record)
                record.fail("missing dependency " + ", ".join(repr(d) for d in missing))
        for cycle in self._cycles(loaded):
            text = " -> ".join([*cycle, cycle[0]])
            for name in cycle:
                self._unregister(self.records[name])
                self.records[name].fail(f"dependency cycle: {text}")
        # Kahn's algorithm, alphabetical among ready plugins, so the order is reproducible.
        edges: dict[str, set[str]] = {}
        for name, record in self.records.items():
            if record.manifest is None:
                continue
            wanted = (*record.manifest.dependencies, *record.manifest.after_dependencies)
            edges[name] = {d for d in wanted if d in self.records and d != name}
        done: list[str] = []
        remaining = dict(edges)
        while remaining:
            ready = sorted(n for n, deps in remaining.items() if not deps - set(done))
            if not ready:  # only cycles remain; they are already failed
                ready = sorted(remaining)
            for name in ready:
                done.append(name)
                del remaining[name]
        self.order = done
        self._skip_dependents()

    def _cycles(self, loaded: dict[str, PluginRecord]) -> list[list[str]]:
        graph = {
            n: [d for d in r.manifest.dependencies if d in loaded]
            for n, r in loaded.items()
            if r.manifest is not None
        }
        cycles: list[list[str]] = []
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            stack.append(node)
            for dep in sorted(graph.get(node, [])):
                if state.get(dep) == 1:
                    cycle = stack[stack.index(dep) :]
                    if not any(set(cycle) == set(c) for c in cycles):
                        cycles.append(cycle)
                elif dep not in state:
                    visit(dep)
            stack.pop()
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node)
        return cycles

    def _skip_dependents(self) -> None:
        """Skip every plugin whose required dependency is not usable, transitively."""
        changed = True
        while changed:
            changed = False
            for name in self.order:
                record = self.records[name]
                if record.state not in (PluginState.LOADED, PluginState.RUNNING):
                    continue
                assert record.manifest is not None  # noqa: S101
                for dep in record.manifest.dependencies:
                    dep_record = self.records.get(dep)
                    if dep_record is None or dep_record.state in (
                        PluginState.LOADED,
                        PluginState.RUNNING,
                    ):
                        continue
                    self._unregister(record)
                    record.fail(
                        f"dependency {dep!r} is {dep_record.state.value}", PluginState.SKIPPED
                    )
                    changed = True
                    break

    # -- registrations ----------------------------------------------------------------------

    def _collect_registrations(self) -> None:
        for name in self.order:
            record = self.records[name]
            if record.state is not PluginState.LOADED:
                continue
            try:
                for hook, kind in REGISTRY_HOOKS.items():
                    for impl in self._impls(hook, name):
                        self._call_sync(impl, register=self._registrar(record, kind))
                for impl in self._impls("register_web_routes", name):
                    self._call_sync(impl, register=self._route_registrar(record))
            except Exception as exc:  # noqa: BLE001 - a plugin's bug stays the plugin's
                self._drop_registrations(name)
                self._unregister(record)
                record.fail(f"registration failed: {type(exc).__name__}: {exc}")
                self._skip_dependents()

    def _registrar(self, record: PluginRecord, kind: str) -> Register:
        def register(obj: Any, name: str | None = None) -> None:
            key = name or getattr(obj, "name", None)
            if not isinstance(key, str) or not key:
                raise ValueError(f"{kind} needs a name (pass name= or give it a .name)")
            table = self.registrations[kind]
            if key in table and table[key].plugin != record.name:
                raise ValueError(
                    f"{kind} {key!r} is already registered by plugin {table[key].plugin!r}"
                )
            table[key] = Registration(kind, key, record.name, obj)
            record.registered.setdefault(kind, []).append(key)

        return register

    def _route_registrar(self, record: PluginRecord) -> Register:
        def register(method: str, path: str, handler: Callable[..., Awaitable[Any]]) -> None:
            if not path.startswith("/"):
                raise ValueError(f"route path must start with '/', got {path!r}")
            full = f"/plugins/{record.name}{path}"
            self.web_routes.append(WebRoute(record.name, method.upper(), full, handler))
            record.registered.setdefault("web_route", []).append(f"{method.upper()} {full}")

        return register

    def _drop_registrations(self, plugin: str) -> None:
        for table in self.registrations.values():
            for key in [k for k, r in table.items() if r.plugin == plugin]:
                del table[key]
        self.web_routes = [r for r in self.web_routes if r.plugin != plugin]
        self.records[plugin].registered.clear()

    def _impls(self, hook: str, plugin: str) -> list[pluggy.HookImpl]:
        caller = getattr(self.pm.hook, hook)
        return [impl for impl in caller.get_hookimpls() if impl.plugin_name == plugin]

    @staticmethod
    def _call_sync(impl: pluggy.HookImpl, **kwargs: Any) -> None:
        result = impl.function(**{a: kwargs[a] for a in impl.argnames})
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(f"{impl.function.__name__} must not be async")

    def registered(self, kind: str) -> dict[str, Registration]:
        """What was registered under `kind` (e.g. "camera_vendor"), by name."""
        return self.registrations[kind]

    # -- lifecycle ---------------------------------------------------------------------------

    async def setup_all(self, hub: Hub) -> None:
        """Run every loaded plugin's `setup`, in dependency order, each in its own barrier."""
        for name in self.order:
            record = self.records[name]
            if record.state is not PluginState.LOADED:
                continue
            dep = self._unusable_dependency(record)
            if dep is not None:
                self._drop_registrations(name)
                record.fail(
                    f"dependency {dep!r} is {self.records[dep].state.value}", PluginState.SKIPPED
                )
                continue
            context = PluginContext(
                name, self._plugin_options(name), self.data_dir / "plugins" / name
            )
            self.contexts[name] = context
            try:
                for impl in self._impls("setup", name):
                    await _call_within(impl, self.setup_timeout, hub=hub, plugin=context)
            except TimeoutError:
                await self._abandon(
                    record, context, f"setup did not finish in {self.setup_timeout:g}s"
                )
                continue
            except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the hub
                await self._abandon(record, context, f"setup raised {type(exc).__name__}: {exc}")
                continue
            record.state = PluginState.RUNNING
            log.info("plugin running", extra={"plugin": name})

    def _unusable_dependency(self, record: PluginRecord) -> str | None:
        assert record.manifest is not None  # noqa: S101
        for dep in record.manifest.dependencies:
            if self.records[dep].state is not PluginState.RUNNING:
                return dep
        return None

    def _plugin_options(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.options.get(name, {}).items() if k != "enabled"}

    async def _abandon(self, record: PluginRecord, context: PluginContext, reason: str) -> None:
        await context.cancel_tasks(self.shutdown_timeout)
        self._drop_registrations(record.name)
        record.fail(reason)

    async def shutdown_all(self, hub: Hub) -> None:
        """Run `shutdown` for every running plugin in reverse order, then cancel its tasks."""
        for name in reversed(self.order):
            record = self.records[name]
            if record.state is not PluginState.RUNNING:
                continue
            context = self.contexts[name]
            try:
                for impl in self._impls("shutdown", name):
                    await _call_within(impl, self.shutdown_timeout, hub=hub, plugin=context)
            except TimeoutError:
                log.error(
                    "shutdown did not finish in %.1fs",
                    self.shutdown_timeout,
                    extra={"plugin": name},
                )
            except Exception:
                log.exception("shutdown raised", extra={"plugin": name})
            await context.cancel_tasks(self.shutdown_timeout)
            record.state = PluginState.STOPPED

    def summary(self) -> dict[str, int]:
        """How many plugins are in each state."""
        counts: dict[str, int] = {}
        for record in self.all_records():
            counts[record.state.value] = counts.get(record.state.value, 0) + 1
        return counts


async def _call_within(impl: pluggy.HookImpl, limit_s: float, **kwargs: Any) -> None:
    """Await a hook implementation; a plain function runs in a daemon thread so it cannot block."""
    args = {a: kwargs[a] for a in impl.argnames}
    async with asyncio.timeout(limit_s):
        if inspect.iscoroutinefunction(impl.function):
            await impl.function(**args)
            return
        result = await asyncio.wrap_future(_in_daemon_thread(impl.function, args))
        if inspect.isawaitable(result):
            await result


def _in_daemon_thread(
    fn: Callable[..., Any], kwargs: dict[str, Any]
) -> concurrent.futures.Future[Any]:
    """Run `fn` in a daemon thread, so a hung plugin never keeps the process alive."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(**kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
            future.set_exception(exc)

    threading.Thread(target=run, name=f"plugin:{fn.__module__}", daemon=True).start()
    return future
