"""The `pantau` command: run the hub, check a config, list plugins, manage the camera registry."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from hub import __version__
from hub.config import Config, ConfigError, config_json_schema, default_config, load_config
from hub.logs import configure_logging

T = TypeVar("T")

CONFIG_ENV = "PANTAU_CONFIG"


def _load(path: str | None) -> Config:
    """Load the config at `path`, or the embedded defaults; config errors end the command."""
    if path is None:
        return default_config()
    try:
        return load_config(Path(path))
    except ConfigError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        count = len(exc.issues)
        click.echo(f"{count} problem{'s' if count != 1 else ''} in {path}", err=True)
        sys.exit(2)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    envvar=CONFIG_ENV,
    type=click.Path(dir_okay=False),
    help=f"Config file (default: ${CONFIG_ENV}, else the embedded defaults).",
)


@click.group()
@click.version_option(__version__, prog_name="pantau")
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING, ERROR.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def main(log_level: str, log_format: str) -> None:
    """Pantau: one picture of every camera, and a fast path from what they see to who responds."""
    configure_logging(log_level, "json" if log_format == "json" else "text")


@main.command()
@click.argument("config_path", required=False, envvar=CONFIG_ENV, type=click.Path(dir_okay=False))
@click.option("--safe-mode", is_flag=True, help="Load built-in plugins only.")
@click.option("--host", help="Listen on this address instead of hub.web.host.")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Listen on this port instead of hub.web.port."
)
def run(config_path: str | None, safe_mode: bool, host: str | None, port: int | None) -> None:
    """Start the hub with CONFIG and serve its API until SIGINT or SIGTERM."""
    from hub.runtime import Hub, run_main
    from hub.web import serve

    config = _load(config_path)
    web_changes = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if web_changes:
        web = config.hub.web.model_copy(update=web_changes)
        config = config.model_copy(update={"hub": config.hub.model_copy(update={"web": web})})
    run_main(serve(Hub(config, safe_mode=safe_mode)))


@main.command()
@click.argument("config_path", type=click.Path(dir_okay=False))
def check(config_path: str) -> None:
    """Validate CONFIG (and the cameras against the installed vendor plugins) without starting."""
    from hub.runtime import Hub

    config = _load(config_path)
    hub = Hub(config)
    hub.load_plugins()
    problems = hub.camera_problems()
    for problem in problems:
        click.echo(f"{config_path}: {problem}", err=True)
    if problems:
        sys.exit(2)
    click.echo(
        f"{config_path}: ok ({len(config.owners)} owners, {len(config.sites)} sites, "
        f"{len(config.cameras)} cameras, {len(config.responders)} responders, "
        f"{len(config.rules)} rules)"
    )


@main.group("config")
def config_group() -> None:
    """Work with the configuration format."""


@config_group.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the config file, for editors."""
    click.echo(json.dumps(config_json_schema(), indent=2))


@main.command("plugins")
@config_option
@click.option("--safe-mode", is_flag=True, help="Load built-in plugins only.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(config_path: str | None, safe_mode: bool, as_json: bool) -> None:
    """List every plugin with its kind, version, source, state and why it failed."""
    from hub.runtime import Hub

    hub = Hub(_load(config_path), safe_mode=safe_mode)
    hub.load_plugins()
    records = [r.as_dict() for r in hub.plugins.all_records()]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    rows = [
        (r["name"], r["kind"], r["version"], r["source"], r["state"], r["reason"] or "")
        for r in records
    ]
    click.echo(_table(rows, ["NAME", "KIND", "VERSION", "SOURCE", "STATE", "REASON"]))


@main.group("plugin")
def plugin_group() -> None:
    """Tools for plugin authors."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to create (default: ./pantau-NAME).",
)
@click.option(
    "--kind",
    type=click.Choice(["vendor"]),
    default="vendor",
    show_default=True,
    help="What the plugin adds (only vendor plugins so far).",
)
def plugin_new(name: str, directory: Path | None, kind: str) -> None:
    """Write a new third-party plugin package: pyproject, manifest, skeleton, README, a test."""
    from hub.scaffold import ScaffoldError, scaffold

    try:
        made = scaffold(name, directory, kind)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(made.next_steps())


@asynccontextmanager
async def _registry(config: Config) -> AsyncIterator[Any]:
    from hub.runtime import Hub

    hub = Hub(config)
    try:
        registry = await hub.open_store()
        await registry.sync_from_config(config)
        yield registry
    finally:
        await hub.db.close()


def _with_registry(config_path: str | None, action: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    async def go() -> T:
        async with _registry(_load(config_path)) as registry:
            return await action(registry)

    return _run(go())


@main.group()
def cameras() -> None:
    """The camera registry: cameras from the config and from the API, CLI or imports."""


@cameras.command("list")
@config_option
@click.option("--owner", help="Only this owner's cameras.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cameras_list(config_path: str | None, owner: str | None, as_json: bool) -> None:
    """List cameras with their owner, site, vendor and where they were declared."""

    async def action(registry: Any) -> list[Any]:
        return list(await registry.list_cameras(owner=owner))

    items = _with_registry(config_path, action)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in items], indent=2, default=str))
        return
    rows = [(c.id, c.name, c.owner, c.site, c.vendor, c.source) for c in items]
    click.echo(_table(rows, ["ID", "NAME", "OWNER", "SITE", "VENDOR", "SOURCE"]))
    click.echo(f"{len(items)} camera{'s' if len(items) != 1 else ''}")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.2f} TB"


@cameras.command("usage")
@config_option
@click.option("--month", help="YYYY-MM (default: this month in the hub's time zone).")
@click.option("--camera", "camera_id", help="Only this camera, day by day.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (bytes per camera per day).")
def cameras_usage(
    config_path: str | None, month: str | None, camera_id: str | None, as_json: bool
) -> None:
    """Data each camera used per day and in the month, to size its data package."""
    import calendar
    from datetime import date, timedelta

    from hub.runtime import Hub
    from hub.streams.usage import UsageLedger

    config = _load(config_path)
    if month is None:
        today = UsageLedger.local_today(config.hub.timezone)
        year, mon = today.year, today.month
    else:
        try:
            year, mon = (int(part) for part in month.split("-"))
            date(year, mon, 1)
        except ValueError:
            click.echo(f"error: --month must look like 2026-11, got {month!r}", err=True)
            sys.exit(2)
    first = date(year, mon, 1)
    last = first + timedelta(days=calendar.monthrange(year, mon)[1] - 1)

    async def go() -> list[Any]:
        hub = Hub(config)
        await hub.open_store()
        try:
            return await UsageLedger(hub.db, config.hub.timezone).lines(first, last, camera_id)
        finally:
            await hub.db.close()

    lines = _run(go())
    if as_json:
        doc = [
            {"camera": ln.camera_id, "day": ln.day.isoformat(), "bytes": ln.bytes_received}
            for ln in lines
        ]
        click.echo(json.dumps(doc, indent=2))
        return
    if camera_id is not None:
        day_rows = [(ln.day.isoformat(), _size(ln.bytes_received)) for ln in lines]
        click.echo(_table(day_rows, ["DAY", "DATA"]))
        click.echo(f"{camera_id}: {_size(sum(ln.bytes_received for ln in lines))} in {first:%Y-%m}")
        return
    totals: dict[str, list[int]] = {}
    for ln in lines:
        totals.setdefault(ln.camera_id, []).append(ln.bytes_received)
    days_in_month = (last - first).days + 1
    rows = []
    for cam, per_day in sorted(totals.items()):
        average = sum(per_day) / len(per_day)
        rows.append(
            (cam, len(per_day), _size(average), _size(sum(per_day)), _size(average * days_in_month))
        )
    click.echo(
        _table(rows, ["CAMERA", "DAYS", "PER DAY", f"{first:%Y-%m}", "FULL MONTH AT THIS RATE"])
    )
    click.echo(f"all cameras: {_size(sum(sum(v) for v in totals.values()))} in {first:%Y-%m}")


@cameras.command("import")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@config_option
@click.option("--owner", "default_owner", help="Owner for rows whose owner column is empty.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a tty).")
def cameras_import(
    csv_path: str, config_path: str | None, default_owner: str | None, progress: bool | None
) -> None:
    """Import an agency's camera inventory from CSV (see docs/inventory.md for the columns)."""
    from hub.inventory import import_cameras_csv

    show_progress = sys.stderr.isatty() if progress is None else progress

    async def action(registry: Any) -> Any:
        return await import_cameras_csv(
            registry, Path(csv_path), progress=show_progress, default_owner=default_owner
        )

    report = _with_registry(config_path, action)
    for error in report.errors:
        click.echo(f"{csv_path}:{error.line}: {error.reason}", err=True)
    click.echo(
        f"{len(report.imported)} imported, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.errors)} bad rows"
    )
    if report.errors:
        sys.exit(1)


@cameras.command("add")
@config_option
@click.option("--id", "camera_id", required=True)
@click.option("--name", required=True)
@click.option("--owner", required=True)
@click.option("--site")
@click.option("--vendor", default="rtsp", show_default=True)
@click.option("--url", help="Stream URL; credentials in it are split out and encrypted.")
@click.option("--host", help="Camera or NVR address, for vendors that take a host.")
@click.option("--port", type=click.IntRange(1, 65535))
@click.option("--lat", type=float)
@click.option("--lon", type=float)
@click.option("--tag", "tags", multiple=True)
def cameras_add(config_path: str | None, camera_id: str, **fields: Any) -> None:
    """Add one camera to the registry (credentials: use the API or an import, not the shell)."""
    from pydantic import ValidationError

    from hub.registry import CameraInput, CameraSource, RegistryError, explain

    fields["tags"] = list(fields["tags"])
    try:
        camera = CameraInput(id=camera_id, **fields)
    except ValidationError as exc:
        click.echo(f"error: {explain(exc)}", err=True)
        sys.exit(1)

    async def action(registry: Any) -> Any:
        return await registry.add_camera(camera, source=CameraSource.API)

    try:
        _with_registry(config_path, action)
    except RegistryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"added camera {camera_id}")


@cameras.command("channels")
@click.argument("nvr_id")
@config_option
@click.option("--add", is_flag=True, help="Register a camera for every channel not yet one.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the NVR.")
def cameras_channels(nvr_id: str, config_path: str | None, add: bool, timeout: float) -> None:
    """List an NVR's channels; with --add, each becomes a camera of the NVR's owner.

    The new cameras share the NVR's site, address and credentials, with options.channel set,
    and are named after their channels: NVR-ID-1, NVR-ID-2, ...
    """
    from hub.channels import add_channel_cameras, channel_camera_id, list_channels
    from hub.runtime import Hub
    from hub.vendors import DeviceVendor, VendorError

    config = _load(config_path)

    async def go() -> tuple[Any, list[Any], list[str]]:
        hub = Hub(config)
        hub.load_plugins()
        try:
            registry = await hub.open_store()
            await registry.sync_from_config(config)
            nvr = await registry.get_camera(nvr_id)
            if nvr is None:
                raise click.ClickException(f"no camera with id {nvr_id!r}")
            vendor = hub.vendors.get(nvr.vendor)
            if not isinstance(vendor, DeviceVendor):
                raise click.ClickException(
                    f"vendor {nvr.vendor!r} cannot list channels (it does not talk to devices)"
                )
            password = await registry.camera_password(nvr.id)
            try:
                channels = await list_channels(vendor, nvr, password, timeout)
            except VendorError as exc:
                raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
            if not add:
                return channels, [], []
            added, skipped = await add_channel_cameras(registry, nvr, password, channels)
            return channels, added, skipped
        finally:
            await hub.db.close()

    channels, added, skipped = _run(go())
    rows = [
        (
            c.index,
            c.name,
            {True: "yes", False: "no", None: "?"}[c.online],
            channel_camera_id(nvr_id, c.index),
        )
        for c in channels
    ]
    click.echo(_table(rows, ["CHANNEL", "NAME", "ONLINE", "CAMERA ID"]))
    if add:
        click.echo(f"added {len(added)} cameras, {len(skipped)} already there")
        if added:
            click.echo(
                f"camera {nvr_id} (the NVR itself) also shows channel 1: once the channel cameras "
                f"work, remove it with `pantau cameras remove {nvr_id}` to avoid paying twice"
            )
    else:
        click.echo(f"{len(channels)} channels; --add makes each a camera")


@cameras.command("remove")
@click.argument("camera_id")
@config_option
def cameras_remove(camera_id: str, config_path: str | None) -> None:
    """Remove a camera that was added through the API, CLI or an import."""
    from hub.registry import RegistryError

    async def action(registry: Any) -> Any:
        return await registry.remove_camera(camera_id)

    try:
        _with_registry(config_path, action)
    except RegistryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"removed camera {camera_id}")


@main.group()
def incidents() -> None:
    """Incidents: what rules raised, who was alerted, who took them on."""


@incidents.command("list")
@config_option
@click.option(
    "--state",
    type=click.Choice(["triggered", "acknowledged", "resolved"]),
    help="Only incidents in this state.",
)
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def incidents_list(config_path: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """List incidents from the store, newest first."""
    from hub.incidents.outbox import Outbox
    from hub.runtime import Hub

    async def go() -> list[dict[str, Any]]:
        hub = Hub(_load(config_path))
        try:
            await hub.open_store()
            return await Outbox(hub.db, hub.credentials).incidents(state, limit)
        finally:
            await hub.db.close()

    items = _run(go())
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    rows = [
        (
            i["id"][:8],
            i["opened"][:16],
            i["state"],
            i["severity"],
            i["camera"],
            i["count"],
            i["title"],
        )
        for i in items
    ]
    headers = ["ID", "OPENED (UTC)", "STATE", "SEVERITY", "CAMERA", "COUNT", "TITLE"]
    click.echo(_table(rows, headers))
    click.echo(f"{len(items)} incident{'s' if len(items) != 1 else ''}")


def _change_incident(config_path: str | None, incident_id: str, action: str, body: Any) -> None:
    """Ask the running hub to change an incident; it owns the escalations, so only it may."""
    from hub.web.client import HubError, change_incident

    config = _load(config_path)
    try:
        answer = _run(change_incident(config, incident_id, action, body))
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    incident = answer["incident"]
    who = incident.get("acknowledged_by") if action == "ack" else incident.get("resolved_by")
    click.echo(f"{incident['id'][:8]} {incident['state']} by {who}: {incident['title']}")


def _default_by() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@incidents.command("ack")
@click.argument("incident_id")
@config_option
@click.option("--by", help="Who takes it on (default: cli:<your login>).")
def incidents_ack(incident_id: str, config_path: str | None, by: str | None) -> None:
    """Acknowledge an incident (its id or the first characters of it): escalation stops.

    Goes through the running hub, with the admin token from its data folder.
    """
    _change_incident(config_path, incident_id, "ack", {"by": by or _default_by()})


@incidents.command("resolve")
@click.argument("incident_id")
@config_option
@click.option("--by", help="Who closes it (default: cli:<your login>).")
@click.option("--reason", default="resolved", show_default=True, help="Why it is over.")
def incidents_resolve(
    incident_id: str, config_path: str | None, by: str | None, reason: str
) -> None:
    """Resolve an incident (its id or the first characters of it), through the running hub."""
    _change_incident(
        config_path, incident_id, "resolve", {"by": by or _default_by(), "reason": reason}
    )


# -- users and tokens (docs/access.md); the work is in hub.access.console --------------------------


def _accounts(action: Coroutine[Any, Any, T]) -> T:
    from hub.access import AccountError, PasswordError

    try:
        return _run(action)
    except (AccountError, PasswordError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _new_password() -> str:
    """From $PANTAU_PASSWORD (for scripts), else asked twice without echo."""
    import os

    from hub.access.console import PASSWORD_ENV

    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@main.group()
def users() -> None:
    """Users who sign in to the web interface: admin, operator, responder, owner, viewer."""


@users.command("add")
@click.argument("name")
@config_option
@click.option("--role", required=True, help="admin, operator, responder, owner or viewer.")
@click.option("--owner", help="For an owner user: the owner id whose data it sees.")
@click.option("--responder", help="For a responder user: its responder id in the config.")
def users_add(
    name: str, config_path: str | None, role: str, owner: str | None, responder: str | None
) -> None:
    """Add a user; the password is asked twice (or read from $PANTAU_PASSWORD)."""
    from hub.access.console import add_user

    config = _load(config_path)
    password = _new_password()
    user = _accounts(add_user(config, name, role, password, owner=owner, responder=responder))
    tie = f" for {user.owner or user.responder}" if user.owner or user.responder else ""
    click.echo(f"added {user.role.value} {user.name}{tie}")


@users.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_list(config_path: str | None, as_json: bool) -> None:
    """List users with their role, what they act for, and their last sign-in."""
    from hub.access.console import list_users, user_rows

    found = _accounts(list_users(_load(config_path)))
    if as_json:
        click.echo(json.dumps([u.as_dict() for u in found], indent=2))
        return
    rows, headers = user_rows(found)
    click.echo(_table(rows, headers))
    click.echo(f"{len(found)} user{'s' if len(found) != 1 else ''}")


@users.command("passwd")
@click.argument("name")
@config_option
def users_passwd(name: str, config_path: str | None) -> None:
    """Set a user's password; their open sessions end."""
    from hub.access.console import set_password

    config = _load(config_path)
    user = _accounts(set_password(config, name, _new_password()))
    click.echo(f"changed the password of {user.name}")


@users.command("disable")
@click.argument("name")
@config_option
def users_disable(name: str, config_path: str | None) -> None:
    """Disable a user: sessions end, tokens stop working, sign-in is refused."""
    from hub.access.console import set_disabled

    user = _accounts(set_disabled(_load(config_path), name, True))
    click.echo(f"disabled {user.name}")


@users.command("enable")
@click.argument("name")
@config_option
def users_enable(name: str, config_path: str | None) -> None:
    """Enable a disabled user again."""
    from hub.access.console import set_disabled

    user = _accounts(set_disabled(_load(config_path), name, False))
    click.echo(f"enabled {user.name}")


@main.group()
def tokens() -> None:
    """API tokens for machines: scoped, expiring, revocable, shown once."""


@tokens.command("create")
@config_option
@click.option("--user", "user_name", required=True, help="The user the token acts for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="What it may do: cameras:read, incidents:read, incidents:ack, ingest, ... (repeat).",
)
@click.option("--expires", default="90d", show_default=True, help="Lifetime: 90d, 12h, ...")
@click.option("--name", help="What it is for (default: the user and today's date).")
def tokens_create(
    config_path: str | None,
    user_name: str,
    scopes: tuple[str, ...],
    expires: str,
    name: str | None,
) -> None:
    """Create a token and print it once: it is kept only as a digest."""
    from hub.access.console import create_token

    config = _load(config_path)
    token, secret = _accounts(create_token(config, user_name, scopes, expires, name))
    click.echo(secret)
    click.echo(
        f"token {token.id} for {token.user}, until {token.expires_at:%Y-%m-%d %H:%M} UTC: "
        "store it now, it is not shown again",
        err=True,
    )


@tokens.command("list")
@config_option
@click.option("--user", "user_name", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_list(config_path: str | None, user_name: str | None, as_json: bool) -> None:
    """List tokens (never the tokens themselves): scopes, state, expiry, last use."""
    from hub.access.console import list_tokens, token_rows

    found = _accounts(list_tokens(_load(config_path), user_name))
    if as_json:
        click.echo(json.dumps([t.as_dict() for t in found], indent=2))
        return
    rows, headers = token_rows(found)
    click.echo(_table(rows, headers))
    click.echo(f"{len(found)} token{'s' if len(found) != 1 else ''}")


@tokens.command("revoke")
@click.argument("token_id")
@config_option
def tokens_revoke(token_id: str, config_path: str | None) -> None:
    """Revoke a token for good."""
    from hub.access.console import revoke_token

    token = _accounts(revoke_token(_load(config_path), token_id))
    click.echo(f"revoked token {token.id} ({token.name}) of {token.user}")


def _option_values(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs as camera options; values are read as YAML scalars (`2`, `true`)."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--option")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        options[key.strip()] = value if isinstance(value, str | int | float | bool) else text
    return options


@main.command("probe")
@click.argument("target")
@click.argument("url", required=False)
@config_option
@click.option("-u", "--username", help="With VENDOR URL: the camera's user.")
@click.option(
    "--password",
    envvar="PANTAU_CAMERA_PASSWORD",
    help="With VENDOR URL: the camera's password (better: the PANTAU_CAMERA_PASSWORD variable, "
    "or leave it out to be asked).",
)
@click.option(
    "-o",
    "--option",
    "option_pairs",
    multiple=True,
    help="With VENDOR URL: a camera option key=value.",
)
@click.option("--listen", default=0.0, show_default=True, help="Seconds to listen for events.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds for each step.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def probe(
    target: str,
    url: str | None,
    config_path: str | None,
    username: str | None,
    password: str | None,
    option_pairs: tuple[str, ...],
    listen: float,
    timeout: float,
    as_json: bool,
) -> None:
    """Test a camera: device information, streams, a snapshot, events, the stream itself.

    `pantau probe CAMERA_ID` tests a camera of the registry. `pantau probe VENDOR URL` tests a
    camera that is not registered yet, e.g. `pantau probe hikvision 192.168.1.64 -u admin`:
    URL is a stream or device URL, or a bare host[:port]. Exits with 1 when a step fails and
    with 2 when the camera cannot be tried at all; each failure says why in plain words.
    """
    from hub.probe import probe_camera, settings_problems, unregistered_camera
    from hub.runtime import Hub

    config = _load(config_path)
    options = _option_values(option_pairs)
    if url is None and (username or password or options):
        raise click.UsageError("--username, --password and --option go with VENDOR URL")
    if url is not None and username and password is None and sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, default="", show_default=False) or None

    async def go() -> Any:
        hub = Hub(config)
        hub.load_plugins()
        if url is not None:
            vendor = hub.vendors.get(target)
            if vendor is None:
                known = ", ".join(sorted(hub.vendors)) or "none"
                raise click.ClickException(f"no plugin provides vendor {target!r} (known: {known})")
            try:
                camera, secret = unregistered_camera(
                    target, url, username=username, password=password, options=options
                )
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            problems = settings_problems(vendor, camera)
            if problems:
                raise click.ClickException("; ".join(problems))
            return await probe_camera(
                camera, secret, vendor, hub.data_dir, listen=listen, step_timeout=timeout
            )
        try:
            registry = await hub.open_store()
            await registry.sync_from_config(config)
            registered = await registry.get_camera(target)
            if registered is None:
                return None
            vendor = hub.vendors.get(registered.vendor)
            if vendor is None:
                raise click.ClickException(f"no plugin provides vendor {registered.vendor!r}")
            secret = await registry.camera_password(registered.id)
            return await probe_camera(
                registered, secret, vendor, hub.data_dir, listen=listen, step_timeout=timeout
            )
        finally:
            await hub.db.close()

    try:
        report = _run(go())
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    if report is None:
        click.echo(f"no camera with id {target!r}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        marks = {True: "ok", False: "FAILED", None: "-"}
        rows = [(step.name, marks[step.ok], step.detail) for step in report.steps]
        click.echo(f"{report.camera_id} ({report.vendor})")
        click.echo(_table(rows, ["STEP", "RESULT", "DETAIL"]))
    sys.exit(0 if report.ok else 1)


@main.group()
def audit() -> None:
    """The audit log: who looked at or changed what, when, from where and why (docs/audit.md)."""


def _with_audit(
    config_path: str | None, action: Callable[[Any, Config], Coroutine[Any, Any, T]]
) -> T:
    from hub.runtime import Hub

    config = _load(config_path)

    async def go() -> T:
        hub = Hub(config)
        try:
            await hub.open_store()
            return await action(hub.audit, config)
        finally:
            await hub.db.close()

    return _run(go())


def _audit_filters(config: Config, since: str | None, until: str | None) -> dict[str, Any]:
    from hub.audit.log import parse_when

    filters: dict[str, Any] = {}
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            filters[name] = parse_when(value, config.hub.timezone, end=name == "until")
        except ValueError:
            click.echo(
                f"error: --{name} must be a date (2026-11-24) or a time, not {value!r}", err=True
            )
            sys.exit(2)
    return filters


@audit.command("verify")
@config_option
def audit_verify(config_path: str | None) -> None:
    """Check the chain from the first record to the last, and the hub's anchors in it.

    Exits with 0 when the log is intact, and 1 naming the first broken record and what is wrong
    with it (changed, missing, relinked, re-signed, cut off).
    """

    async def action(log: Any, _config: Config) -> Any:
        return await log.verify()

    result = _with_audit(config_path, action)
    if result.intact:
        click.echo(result.summary())
        return
    click.echo(result.summary(), err=True)
    sys.exit(1)


@audit.command("list")
@config_option
@click.option("--owner", help="Only the records of this owner's cameras.")
@click.option("--camera", help="Only the records of this camera.")
@click.option("--action", help="Only this action (live.view, login, camera.update, ...).")
@click.option("--since", help="From this date or time (the hub's time zone unless given).")
@click.option("--until", help="Up to this date (included) or time (excluded).")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_list(
    config_path: str | None,
    owner: str | None,
    camera: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List audit records, newest first."""
    from hub.audit import Action

    if action is not None and action not in {a.value for a in Action}:
        known = ", ".join(sorted(a.value for a in Action))
        click.echo(f"error: unknown action {action!r} (known: {known})", err=True)
        sys.exit(2)

    async def go(log: Any, config: Config) -> list[Any]:
        filters = _audit_filters(config, since, until)
        found = await log.records(owner=owner, camera=camera, action=action, limit=limit, **filters)
        return list(found)

    found = _with_audit(config_path, go)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found], indent=2, ensure_ascii=False))
        return
    rows = [
        (
            r.seq,
            r.as_dict()["time"][:19],
            r.actor_name or r.actor,
            r.action,
            r.camera_id,
            r.owner_id,
            r.source,
            r.purpose,
        )
        for r in found
    ]
    headers = ["SEQ", "TIME (UTC)", "ACTOR", "ACTION", "CAMERA", "OWNER", "FROM", "PURPOSE"]
    click.echo(_table(rows, headers))
    click.echo(f"{len(found)} record{'s' if len(found) != 1 else ''}")


@audit.command("export")
@config_option
@click.option("--owner", help="Only the records of this owner's cameras (what the owner gets).")
@click.option("--camera", help="Only the records of this camera.")
@click.option("--since", help="From this date or time (the hub's time zone unless given).")
@click.option("--until", help="Up to this date (included) or time (excluded).")
def audit_export(
    config_path: str | None,
    owner: str | None,
    camera: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Write the matching records as CSV (oldest first) to standard output: `> file.csv`.

    The export itself is recorded (`audit.export`, by cli:<your login>).
    """
    from hub.audit import Action, Actor, ActorKind, csv_lines

    out = sys.stdout.buffer  # bytes: the CSV's CRLF line ends stay as they are

    async def go(log: Any, config: Config) -> int:
        filters = _audit_filters(config, since, until)
        who = _default_by()
        details = {"owner": owner, "camera": camera, "since": since, "until": until}
        await log.append(
            Action.AUDIT_EXPORT,
            Actor(who, ActorKind.NAMED, who),
            owner_id=owner,
            camera_id=camera,
            source="console",
            details={k: v for k, v in details.items() if v is not None},
        )
        lines = 0
        async for line in csv_lines(log.stream(owner=owner, camera=camera, **filters)):
            out.write(line.encode("utf-8"))
            lines += 1
        out.flush()
        return lines - 1

    count = _with_audit(config_path, go)
    click.echo(f"{count} record{'s' if count != 1 else ''} exported", err=True)


@main.group("events")
def events_group() -> None:
    """Device events: see how a vendor plugin reads what a device sent."""


@events_group.command("decode")
@click.option("--vendor", "vendor_name", required=True, help="The vendor whose payload it is.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@config_option
def events_decode(vendor_name: str, file: str, config_path: str | None) -> None:
    """Print the normalized events in a captured payload, one JSON object a line.

    FILE (`-` for standard input) is what a device sent: an ONVIF PullMessages answer, a
    Hikvision alert or alertStream, a Dahua attach stream, ... Every part that gave no event is
    named on standard error with the reason. Exits with 0 when an event came out, 1 when none
    did, and 2 when the payload cannot be tried (an unknown vendor, one that cannot decode, a
    file that cannot be read).
    """
    from hub.decode import DecodeError, decode_file, event_json, note_text, summary
    from hub.runtime import Hub

    hub = Hub(_load(config_path))
    hub.load_plugins()
    path = None if file == "-" else Path(file)
    try:
        decoded = decode_file(hub.vendors, vendor_name, path)
    except DecodeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for event in decoded.events:
        click.echo(json.dumps(event_json(decoded.vendor, event), ensure_ascii=False))
    for note in decoded.notes:
        click.echo(note_text(note), err=True)
    click.echo(summary(decoded, "standard input" if path is None else file), err=True)
    sys.exit(0 if decoded.events else 1)


@main.command("discover")
@config_option
@click.option("--wait", default=3.0, show_default=True, help="Seconds to wait for answers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def discover_command(config_path: str | None, wait: float, as_json: bool) -> None:
    """Find cameras on the local network (ONVIF WS-Discovery and other vendors' probes)."""
    from dataclasses import asdict

    from hub.probe import discover
    from hub.runtime import Hub

    hub = Hub(_load(config_path))
    hub.load_plugins()
    found, problems = _run(discover(hub.vendors, wait))
    for problem in problems:
        click.echo(f"discovery failed: {problem}", err=True)
    if as_json:
        click.echo(json.dumps([asdict(d) for d in found], indent=2))
        return
    rows = [(d.vendor, d.address, d.manufacturer, d.model, " ".join(d.urls)) for d in found]
    click.echo(_table(rows, ["VENDOR", "ADDRESS", "MAKE", "MODEL", "URLS"]))
    click.echo(f"{len(found)} device{'s' if len(found) != 1 else ''} answered in {wait:g} s")


@main.group()
def keys() -> None:
    """The credential key: it encrypts camera passwords and alert channels, and signs links."""


@keys.command("new")
def keys_new() -> None:
    """Print a new random key (for PANTAU_SECRET_KEY; the key file gets one by itself)."""
    from hub.credentials import CredentialBox

    click.echo(CredentialBox.generate_key())


@keys.command("rotate")
@config_option
@click.option(
    "--reencrypt-only",
    is_flag=True,
    help="Add no key: re-encrypt with the first key as it is (keys from PANTAU_SECRET_KEY).",
)
def keys_rotate(config_path: str | None, reencrypt_only: bool) -> None:
    """Put a new key first and re-encrypt every stored secret with it; the hub must be stopped.

    The retired keys stay in the key file, after the new one: they still verify what they
    signed (audit anchors, acknowledge links) and decrypt old backups.
    """
    from hub.keys import KeyRotationError, rotate
    from hub.runtime import Hub

    config = _load(config_path)
    if _hub_answers(config):
        click.echo(
            f"error: the hub answers at {config.hub.web.base_url()}: stop it first, since it "
            "holds the keys it started with",
            err=True,
        )
        sys.exit(1)

    async def go() -> Any:
        hub = Hub(config)
        try:
            await hub.open_store()
            return await rotate(hub.db, hub.data_dir, reencrypt_only=reencrypt_only)
        finally:
            await hub.db.close()

    try:
        done = _run(go())
    except KeyRotationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    where = f" in {done.key_file}" if done.key_file else ""
    click.echo(
        f"re-encrypted {done.camera_passwords} camera passwords and {done.channel_urls} alert "
        f"channels with the first of {done.keys} keys{where}"
    )


def _hub_answers(config: Config) -> bool:
    import urllib.error
    import urllib.request

    url = f"{config.hub.web.base_url()}/api/health"
    try:
        with urllib.request.urlopen(url, timeout=1.5):  # noqa: S310 - our own http(s) URL
            return True
    except urllib.error.HTTPError:
        return True  # something answered
    except (OSError, ValueError):
        return False


@main.group()
def retention() -> None:
    """How long clips and stored pictures are kept (docs/clips.md)."""


@retention.command("purge")
@config_option
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
def retention_purge(config_path: str | None, dry_run: bool) -> None:
    """Delete clips and spooled alert pictures older than their camera's retention, now.

    The running hub does this hourly by itself; the audit log is never purged.
    """
    from hub.clips import ClipCatalog, RetentionPurge
    from hub.runtime import Hub

    config = _load(config_path)

    async def go() -> Any:
        hub = Hub(config)
        try:
            registry = await hub.open_store()
            await registry.sync_from_config(config)  # the periods the config says now
            purge = RetentionPurge(
                hub.db, registry, ClipCatalog(hub.db), hub.data_dir, config.hub.retention_days
            )
            return await purge.purge(dry_run=dry_run)
        finally:
            await hub.db.close()

    report = _run(go())
    for line in report.lines() or ["nothing is past its retention"]:
        click.echo(line)


@main.command("diagnose")
@config_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here."
)
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The hub's log file, whose last lines go in (redacted).",
)
@click.option("--lines", default=500, show_default=True, help="How many log lines.")
def diagnose(
    config_path: str | None, output: Path | None, log_file: Path | None, lines: int
) -> None:
    """Write diagnostics for a developer as JSON, every secret hidden (see docs/diagnostics.md)."""
    import os

    from hub.diagnose import SecretLeft, dump

    config = _load(config_path)
    try:
        text = _run(
            dump(
                config,
                config_path=Path(config_path) if config_path else None,
                log_file=log_file,
                lines=max(0, lines),
            )
        )
    except SecretLeft as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote diagnostics to {output}; every secret in it is hidden as ***", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
