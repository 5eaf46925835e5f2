"""The plugin host: every way a plugin can fail, isolated, and the hub going on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from hub.plugins import PluginHost, PluginSource, PluginState
from tests.plugin_kit import PluginLab, manifest_toml, open_lab

if TYPE_CHECKING:
    from hub.runtime import Hub

RECORDING = """
from hub import hookimpl

@hookimpl
async def setup(hub, plugin):
    hub.calls.append(("setup", plugin.name))

@hookimpl
async def shutdown(hub, plugin):
    hub.calls.append(("shutdown", plugin.name))
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PluginLab]:
    yield from open_lab(tmp_path)


@pytest.fixture
def hub() -> Hub:
    return cast("Hub", SimpleNamespace(calls=[]))


def state(host: PluginHost, name: str) -> tuple[str, str | None]:
    record = host.records[name]
    return record.state.value, record.reason


async def test_healthy_plugins_set_up_in_dependency_order(lab: PluginLab, hub: Hub) -> None:
    lab.builtin("zeta", RECORDING)
    lab.builtin("alpha", RECORDING, manifest_toml("alpha", dependencies=["zeta"]))
    lab.builtin("beta", RECORDING, manifest_toml("beta", after_dependencies=["alpha"]))
    lab.builtin("gamma", RECORDING, manifest_toml("gamma", after_dependencies=["not_installed"]))
    host = lab.host()
    assert host.order == ["gamma", "zeta", "alpha", "beta"]
    await host.setup_all(hub)
    assert all(r.state is PluginState.RUNNING for r in host.records.values())
    await host.shutdown_all(hub)
    calls = cast(Any, hub).calls
    assert [c for c in calls if c[0] == "setup"] == [
        ("setup", n) for n in ["gamma", "zeta", "alpha", "beta"]
    ]
    assert [c for c in calls if c[0] == "shutdown"] == [
        ("shutdown", n) for n in ["beta", "alpha", "zeta", "gamma"]
    ]
    assert all(r.state is PluginState.STOPPED for r in host.records.values())


def test_bad_manifest_is_reported_with_every_problem(lab: PluginLab) -> None:
    lab.builtin("cams", "", 'name = "cams"\nkind = "camera"\ncolour = "red"\n')
    lab.builtin("fine")
    host = lab.host()
    status, reason = state(host, "cams")
    assert status == "failed"
    assert reason is not None
    assert "version: is required" in reason
    assert "kind: Input should be 'vendor', 'integration'" in reason
    assert "colour: is not a known field" in reason
    assert state(host, "fine") == ("loaded", None)


def test_unparseable_manifest(lab: PluginLab) -> None:
    lab.builtin("broken", "", "name = \n")
    status, reason = state(lab.host(), "broken")
    assert status == "failed"
    assert reason is not None and reason.startswith("could not read ")


def test_manifest_name_must_match_folder(lab: PluginLab) -> None:
    lab.builtin("hikvision", "", manifest_toml("dahua"))
    assert state(lab.host(), "hikvision") == (
        "failed",
        "manifest name 'dahua' does not match its folder 'hikvision'",
    )


def test_missing_dependency_is_named_and_dependents_skipped(lab: PluginLab) -> None:
    lab.builtin("alerts", "", manifest_toml("alerts", dependencies=["ghost", "phantom"]))
    lab.builtin("pager", "", manifest_toml("pager", dependencies=["alerts"]))
    host = lab.host()
    assert state(host, "alerts") == ("failed", "missing dependency 'ghost', 'phantom'")
    assert state(host, "pager") == ("skipped", "dependency 'alerts' is failed")


def test_dependency_cycle_is_reported_by_name(lab: PluginLab) -> None:
    lab.builtin("aa", "", manifest_toml("aa", dependencies=["bb"]))
    lab.builtin("bb", "", manifest_toml("bb", dependencies=["cc"]))
    lab.builtin("cc", "", manifest_toml("cc", dependencies=["aa"]))
    lab.builtin("dd", "", manifest_toml("dd", dependencies=["aa"]))
    lab.builtin("ee")
    host = lab.host()
    for name in ("aa", "bb", "cc"):
        assert state(host, name) == ("failed", "dependency cycle: aa -> bb -> cc -> aa")
    assert state(host, "dd") == ("skipped", "dependency 'aa' is failed")
    assert state(host, "ee") == ("loaded", None)


async def test_setup_that_raises_is_isolated(lab: PluginLab, hub: Hub) -> None:
    lab.builtin(
        "boom",
        """
        from hub import hookimpl

        @hookimpl
        def register_camera_vendors(register):
            register(object(), name="boomcam")

        @hookimpl
        async def setup(hub, plugin):
            raise RuntimeError("camera password wrong")
        """,
    )
    lab.builtin("after_boom", RECORDING, manifest_toml("after_boom", dependencies=["boom"]))
    lab.builtin("bystander", RECORDING)
    host = lab.host()
    assert "boomcam" in host.registered("camera_vendor")
    await host.setup_all(hub)
    assert state(host, "boom") == ("failed", "setup raised RuntimeError: camera password wrong")
    assert state(host, "after_boom") == ("skipped", "dependency 'boom' is failed")
    assert state(host, "bystander") == ("running", None)
    assert "boomcam" not in host.registered("camera_vendor")
    await host.shutdown_all(hub)


async def test_setup_that_hangs_times_out(lab: PluginLab, hub: Hub) -> None:
    lab.builtin(
        "hangs_async",
        """
        import asyncio
        from hub import hookimpl

        @hookimpl
        async def setup(hub, plugin):
            plugin.create_task(asyncio.sleep(3600), "forever")
            await asyncio.Event().wait()
        """,
    )
    lab.builtin(
        "hangs_sync",
        """
        import time
        from hub import hookimpl

        @hookimpl
        def setup(hub, plugin):
            time.sleep(30)
        """,
    )
    lab.builtin("fine", RECORDING)
    host = lab.host(setup_timeout=0.3)
    started = time.monotonic()
    await host.setup_all(hub)
    assert time.monotonic() - started < 3
    assert state(host, "hangs_async") == ("failed", "setup did not finish in 0.3s")
    assert state(host, "hangs_sync") == ("failed", "setup did not finish in 0.3s")
    assert state(host, "fine") == ("running", None)
    # the task the hung plugin started was cancelled with it
    assert not host.contexts["hangs_async"]._tasks
    await host.shutdown_all(hub)


def test_import_error_marks_failed(lab: PluginLab) -> None:
    lab.builtin("needs_lib", "import pantau_no_such_library\n")
    lab.builtin("syntax", "def oops(:\n")
    host = lab.host()
    assert state(host, "needs_lib") == (
        "failed",
        "import failed: ModuleNotFoundError: No module named 'pantau_no_such_library'",
    )
    status, reason = state(host, "syntax")
    assert status == "failed"
    assert reason is not None and reason.startswith("import failed: SyntaxError")


def test_unmet_requirement_and_hub_version(lab: PluginLab) -> None:
    lab.builtin("onvifish", "", manifest_toml("onvifish", requirements=["pantau-no-such-dist>=1"]))
    lab.builtin("pydantic_old", "", manifest_toml("pydantic_old", requirements=["pydantic<1"]))
    lab.builtin("future", "", manifest_toml("future", min_hub_version="99.0"))
    host = lab.host()
    assert state(host, "onvifish") == (
        "failed",
        "requirement not met: pantau-no-such-dist>=1 (not installed)",
    )
    status, reason = state(host, "pydantic_old")
    assert status == "failed" and reason is not None and "pydantic<1 (installed 2." in reason
    assert state(host, "future") == ("failed", "needs Pantau 99.0 or newer (this is 0.1.0)")


def test_unknown_hook_and_bad_signature(lab: PluginLab) -> None:
    lab.builtin(
        "typo",
        """
        from hub import hookimpl

        @hookimpl
        def setpu(hub, plugin):
            pass
        """,
    )
    lab.builtin(
        "badargs",
        """
        from hub import hookimpl

        @hookimpl
        def setup(hub, plugin, extra):
            pass
        """,
    )
    host = lab.host()
    assert state(host, "typo") == ("failed", "unknown hook 'setpu'")
    status, reason = state(host, "badargs")
    assert status == "failed" and reason is not None and "extra" in reason


def test_entry_point_and_folder_plugins(lab: PluginLab) -> None:
    lab.installed("mallcam", "mallcam_plugin", RECORDING)
    lab.user("queue_counter", RECORDING)
    host = lab.host()
    assert host.records["mallcam"].source is PluginSource.ENTRY_POINT
    assert host.records["mallcam"].origin == "mallcam_plugin (mallcam_plugin-dist)"
    assert host.records["queue_counter"].source is PluginSource.FOLDER
    assert state(host, "mallcam") == ("loaded", None)
    assert state(host, "queue_counter") == ("loaded", None)


def test_entry_point_plugin_with_manifest_dict(lab: PluginLab) -> None:
    code = RECORDING + '\nMANIFEST = {"name": "single", "version": "2.0", "kind": "bridge"}\n'
    lab.installed("single", "single_module_plugin", code, manifest="")
    (lab.root / "site" / "single_module_plugin" / "manifest.toml").unlink()
    host = lab.host()
    record = host.records["single"]
    assert record.state is PluginState.LOADED
    assert record.manifest is not None and record.manifest.kind.value == "bridge"


def test_third_party_may_not_replace_builtin(lab: PluginLab) -> None:
    lab.builtin("hikvision", RECORDING)
    lab.installed("hikvision", "evil_hik", RECORDING)
    lab.user("hikvision", RECORDING)
    host = lab.host()
    assert host.records["hikvision"].source is PluginSource.BUILTIN
    assert host.records["hikvision"].state is PluginState.LOADED
    refused = [
        r for r in host.all_records() if r.name == "hikvision" and r.state is PluginState.FAILED
    ]
    assert sorted(r.source.value for r in refused) == ["entry point", "folder"]
    for record in refused:
        assert record.reason is not None
        assert (
            "a built-in plugin has this name; a third-party plugin may not replace it"
            in record.reason
        )


def test_safe_mode_loads_builtins_only(lab: PluginLab) -> None:
    lab.builtin("core_thing", RECORDING)
    lab.installed("mallcam", "mallcam_plugin2", RECORDING)
    lab.user("queue_counter", RECORDING)
    host = lab.host(safe_mode=True)
    assert sorted(host.records) == ["core_thing"]


def test_disable_from_config_but_not_essentials(lab: PluginLab) -> None:
    lab.builtin("api_core", RECORDING, manifest_toml("api_core", essential=True))
    lab.builtin("mqtt", RECORDING)
    lab.builtin("needs_mqtt", RECORDING, manifest_toml("needs_mqtt", dependencies=["mqtt"]))
    host = lab.host(options={"mqtt": {"enabled": False}, "api_core": {"enabled": False}})
    assert state(host, "mqtt") == ("disabled", "disabled in the config")
    assert state(host, "needs_mqtt") == ("skipped", "dependency 'mqtt' is disabled")
    assert state(host, "api_core") == ("loaded", None)


def test_third_party_cannot_claim_essential(lab: PluginLab) -> None:
    lab.user("sneaky", RECORDING, manifest_toml("sneaky", essential=True))
    assert state(lab.host(), "sneaky") == ("failed", "only built-in plugins may be essential")


def test_registrations_know_their_plugin_and_clash_is_refused(lab: PluginLab) -> None:
    vendor = """
    from hub import hookimpl

    class Vendor:
        name = "hikvision"

    @hookimpl
    def register_camera_vendors(register):
        register(Vendor())

    @hookimpl
    def register_notification_channels(register):
        register(object(), name="{channel}")
    """
    lab.builtin("first", vendor.replace("{channel}", "telegram"))
    lab.builtin("second", vendor.replace("{channel}", "whatsapp"))
    host = lab.host()
    assert host.registered("camera_vendor")["hikvision"].plugin == "first"
    assert host.registered("notification_channel")["telegram"].plugin == "first"
    assert "whatsapp" not in host.registered("notification_channel")
    assert state(host, "second") == (
        "failed",
        "registration failed: ValueError: camera_vendor 'hikvision' is already registered "
        "by plugin 'first'",
    )
    assert host.records["first"].registered == {
        "camera_vendor": ["hikvision"],
        "notification_channel": ["telegram"],
    }


def test_web_routes_are_namespaced(lab: PluginLab) -> None:
    lab.builtin(
        "ingest",
        """
        from aiohttp import web
        from hub import hookimpl

        async def hello(request):
            return web.Response(text="hi")

        @hookimpl
        def register_web_routes(register):
            register("get", "/hello", hello)
        """,
    )
    host = lab.host()
    assert [(r.method, r.path) for r in host.web_routes] == [("GET", "/plugins/ingest/hello")]


def test_every_registry_hook_records_what_it_registered(lab: PluginLab) -> None:
    lab.builtin(
        "everything",
        """
        from hub import hookimpl

        class Named:
            def __init__(self, name):
                self.name = name

        @hookimpl
        def register_owner_integrations(register):
            register(Named("webhook_ingest"))

        @hookimpl
        def register_analyzers(register):
            register(Named("queue_occupancy"))

        @hookimpl
        def register_bridges(register):
            register(Named("mqtt"))

        @hookimpl
        def register_notification_channels(register):
            register(Named("apprise"))
        """,
    )
    lab.builtin(
        "nameless",
        """
        from hub import hookimpl

        @hookimpl
        def register_analyzers(register):
            register(object())
        """,
    )
    host = lab.host()
    assert host.records["everything"].registered == {
        "owner_integration": ["webhook_ingest"],
        "notification_channel": ["apprise"],
        "analyzer": ["queue_occupancy"],
        "bridge": ["mqtt"],
    }
    assert host.registered("bridge")["mqtt"].plugin == "everything"
    assert state(host, "nameless") == (
        "failed",
        "registration failed: ValueError: analyzer needs a name (pass name= or give it a .name)",
    )


async def test_shutdown_that_raises_or_hangs_does_not_stop_others(lab: PluginLab, hub: Hub) -> None:
    lab.builtin(
        "bad_stop",
        """
        import asyncio
        from hub import hookimpl

        @hookimpl
        async def setup(hub, plugin):
            plugin.create_task(asyncio.sleep(3600), "poller")

        @hookimpl
        async def shutdown(hub, plugin):
            raise RuntimeError("nope")
        """,
    )
    lab.builtin(
        "slow_stop",
        """
        import asyncio
        from hub import hookimpl

        @hookimpl
        async def shutdown(hub, plugin):
            await asyncio.sleep(3600)
        """,
    )
    lab.builtin("good", RECORDING)
    host = lab.host(shutdown_timeout=0.2)
    await host.setup_all(hub)
    await host.shutdown_all(hub)
    assert all(r.state is PluginState.STOPPED for r in host.records.values())
    assert ("shutdown", "good") in cast(Any, hub).calls
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


def test_real_builtins_load() -> None:
    host = PluginHost(data_dir=Path("var"))
    host.load()
    assert host.records["rtsp"].state is PluginState.LOADED
    assert host.records["rtsp"].source is PluginSource.BUILTIN
    assert "rtsp" in host.registered("camera_vendor")
