"""Users, tokens and sessions in the store (both backends), the sign-in throttle, and the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from hub.access import (
    AccountError,
    Accounts,
    PasswordError,
    Passwords,
    Principal,
    PrincipalKind,
    Refusal,
    Role,
)
from hub.access.throttle import Limit, LoginThrottle
from hub.cli import main
from hub.credentials import CredentialBox
from hub.incidents.outbox import Outbox
from hub.store import Database
from hub.store.models import ApiTokenRow, UserRow, utcnow
from tests.incidents.outbox_kit import job, opening

PASSWORD = "Kata-Sandi-Rahasia-2026"
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
"""Weak on purpose: the store tests hash often; the web tests use the real parameters."""


@pytest.fixture
def accounts(db: Database) -> Accounts:
    return Accounts(db, Passwords(FAST))


async def stored_user(db: Database, name: str) -> UserRow:
    async with db.session() as session:
        row = await session.scalar(select(UserRow).where(UserRow.name == name))
    assert row is not None
    return row


# -- users ----------------------------------------------------------------------------------------


async def test_a_user_is_kept_with_an_argon2id_hash_and_never_the_password(
    accounts: Accounts, db: Database
) -> None:
    user = await accounts.users.add("Sari", "operator", PASSWORD)
    assert (user.name, user.role, user.owner, user.responder) == ("sari", Role.OPERATOR, None, None)
    row = await stored_user(db, "sari")
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert PASSWORD not in str(user) and "argon2" not in json.dumps(user.as_dict())
    with pytest.raises(AccountError, match="already a user 'sari'"):
        await accounts.users.add(" SARI", "viewer", PASSWORD)
    assert [u.name for u in await accounts.users.list()] == ["sari"]


@pytest.mark.parametrize(
    ("name", "role", "ties", "problem"),
    [
        ("bad name", "viewer", {}, "is not a user name"),
        ("x" * 65, "viewer", {}, "is not a user name"),
        ("budi", "superuser", {}, "unknown role 'superuser'"),
        ("mall", "owner", {}, "an owner user needs --owner"),
        ("budi", "responder", {}, "a responder user needs --responder"),
        ("sari", "operator", {"owner": "dlh"}, "only an owner user belongs to an owner"),
        ("sari", "viewer", {"responder": "damkar"}, "only a responder user acts for"),
    ],
)
async def test_malformed_users_are_refused(
    accounts: Accounts, name: str, role: str, ties: dict[str, str], problem: str
) -> None:
    with pytest.raises(AccountError, match=problem):
        await accounts.users.add(name, role, PASSWORD, **ties)


@pytest.mark.parametrize("password", ["pendek", " Spasi-Di-Depan-2026", "Baris\nBaru-2026-xx"])
async def test_weak_passwords_are_refused_without_being_repeated(
    accounts: Accounts, password: str
) -> None:
    with pytest.raises(PasswordError) as refused:
        await accounts.users.add("sari", "viewer", password)
    assert password.strip() not in str(refused.value)


async def test_sign_in_takes_only_the_right_password_of_an_enabled_user(
    accounts: Accounts,
) -> None:
    await accounts.users.add("sari", "operator", PASSWORD)
    assert await accounts.users.sign_in("sari", "Kata-Sandi-Salah-2026") is None
    assert await accounts.users.sign_in("siapa", PASSWORD) is None
    assert await accounts.users.sign_in("sari", "x" * 5000) is None
    signed = await accounts.users.sign_in(" Sari", PASSWORD)
    assert signed is not None and signed.last_login_at is not None
    await accounts.users.set_disabled("sari", True)
    assert await accounts.users.sign_in("sari", PASSWORD) is None
    await accounts.users.set_disabled("sari", False)
    assert await accounts.users.sign_in("sari", PASSWORD) is not None
    with pytest.raises(AccountError, match="no user 'siapa'"):
        await accounts.users.set_password("siapa", PASSWORD)


async def test_a_hash_made_with_weaker_parameters_is_remade_at_sign_in(db: Database) -> None:
    await Accounts(db, Passwords(FAST)).users.add("sari", "operator", PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    assert await Accounts(db, Passwords(stronger)).users.sign_in("sari", PASSWORD) is not None
    assert "m=16384,t=2" in (await stored_user(db, "sari")).password_hash


# -- tokens ---------------------------------------------------------------------------------------


async def test_a_token_is_shown_once_kept_as_a_digest_and_acts_within_its_scopes(
    accounts: Accounts, db: Database
) -> None:
    await accounts.users.add("budi", "responder", PASSWORD, responder="damkar")
    token, secret = await accounts.tokens.create("budi", ["incidents:read"], name="pager")
    assert secret.startswith("pantau_") and len(secret) >= 7 + 43
    async with db.session() as session:
        row = await session.get(ApiTokenRow, token.id)
    assert row is not None and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(token.as_dict())
    found = await accounts.tokens.identify(secret)
    assert isinstance(found, Principal)
    assert (found.kind, found.name, found.role) == (PrincipalKind.TOKEN, "budi", Role.RESPONDER)
    assert (found.responder, found.token_id) == ("damkar", token.id)
    assert [a.value for a in found.access] == ["incidents:read"]
    listed = await accounts.tokens.list()
    assert [(t.id, t.user, t.state(utcnow())) for t in listed] == [(token.id, "budi", "active")]
    assert listed[0].last_used_at is not None


async def test_tokens_expire_and_are_revoked_for_good(accounts: Accounts) -> None:
    await accounts.users.add("ana", "admin", PASSWORD)
    token, secret = await accounts.tokens.create("ana", ["ingest"], lifetime=timedelta(days=1))
    later = utcnow() + timedelta(days=1, seconds=1)
    expired = await accounts.tokens.identify(secret, now=later)
    assert isinstance(expired, Refusal) and expired.reason.startswith("the token expired at")
    assert token.state(later) == "expired"
    revoked = await accounts.tokens.revoke(token.id)
    assert revoked.revoked_at is not None and revoked.state(utcnow()) == "revoked"
    assert await accounts.tokens.identify(secret) == Refusal(
        "the token is not valid (unknown or revoked)"
    )
    assert (await accounts.tokens.revoke(token.id)).revoked_at == revoked.revoked_at
    for wrong in ("pantau_" + "A" * 43, secret[:-1], "", "Bearer " + secret):
        assert isinstance(await accounts.tokens.identify(wrong), Refusal)
    with pytest.raises(AccountError, match="no token 'nope'"):
        await accounts.tokens.revoke("nope")
    with pytest.raises(AccountError, match="lifetime must be positive"):
        await accounts.tokens.create("ana", ["ingest"], lifetime=timedelta(0))


async def test_a_token_loses_what_its_users_role_no_longer_allows(
    accounts: Accounts, db: Database
) -> None:
    await accounts.users.add("ana", "admin", PASSWORD)
    _, secret = await accounts.tokens.create("ana", ["admin", "cameras:read"])
    async with db.session() as session, session.begin():
        (await session.scalars(select(UserRow))).one().role = "viewer"
    found = await accounts.tokens.identify(secret)
    assert isinstance(found, Principal) and [a.value for a in found.access] == ["cameras:read"]


# -- sessions -------------------------------------------------------------------------------------


async def test_a_session_lasts_a_shift_and_ends_when_closed(accounts: Accounts) -> None:
    user = await accounts.users.add("sari", "operator", PASSWORD)
    cookie, expires = await accounts.sessions.open(user.id)
    assert expires - utcnow() > timedelta(hours=11, minutes=59)
    found = await accounts.sessions.identify(cookie)
    assert isinstance(found, Principal) and found.kind is PrincipalKind.USER
    ended = Refusal("the session ended: sign in again")
    assert await accounts.sessions.identify(cookie, now=expires) == ended
    assert await accounts.sessions.identify(cookie + "x") == ended
    assert await accounts.sessions.close(cookie) == user.id
    assert await accounts.sessions.identify(cookie) == ended
    assert await accounts.sessions.close(cookie) is None


# -- whom an incident was sent to -----------------------------------------------------------------


async def test_an_incident_counts_as_sent_only_to_responders_already_alerted(
    db: Database,
) -> None:
    outbox = Outbox(db, CredentialBox([CredentialBox.generate_key()]))
    change, fields = opening("inc-1", at=utcnow())
    later = utcnow() + timedelta(minutes=10)
    jobs = [
        job("now", "json://127.0.0.1:9/damkar"),
        job("next-step", "json://127.0.0.1:9/polres", not_before=later),
    ]
    jobs[1] = dataclasses.replace(jobs[1], responder="polres")
    await outbox.record(change, fields, jobs)
    assert await outbox.was_alerted("inc-1", "damkar")
    assert not await outbox.was_alerted("inc-1", "polres")  # its step has not come yet
    assert not await outbox.was_alerted("inc-2", "damkar")
    assert [i["id"] for i in await outbox.incidents(alerted="damkar")] == ["inc-1"]
    assert await outbox.incidents(alerted="polres") == []
    # acknowledged before the next step: it is cancelled and never reaches Polres
    await outbox.cancel_pending("inc-1", "acknowledged")
    assert not await outbox.was_alerted("inc-1", "polres")


# -- the sign-in throttle -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_grow_per_name_and_reset_on_success() -> None:
    clock = Clock()
    throttle = LoginThrottle(Limit(free=3), Limit(free=100), clock=clock)
    for _ in range(3):
        assert throttle.wait("sari", "10.0.0.1") == 0
        throttle.failed("sari", "10.0.0.1")
    assert throttle.wait("sari", "10.0.0.9") == 1.0  # from anywhere
    assert throttle.wait("ana", "10.0.0.1") == 0  # another name is not slowed
    clock.now += 1
    throttle.failed("sari", "10.0.0.1")
    assert throttle.wait("sari", "10.0.0.1") == 2.0
    for _ in range(20):
        throttle.failed("sari", "10.0.0.1")
    assert throttle.wait("sari", "10.0.0.1") == 900.0  # never longer than 15 minutes
    throttle.succeeded("sari")
    assert throttle.wait("sari", "10.0.0.2") == 0


def test_one_address_guessing_many_names_is_slowed_too() -> None:
    clock = Clock()
    throttle = LoginThrottle(Limit(free=5), Limit(free=20), clock=clock)
    for number in range(20):
        throttle.failed(f"nama-{number}", "203.0.113.7")
    assert throttle.wait("nama-baru", "203.0.113.7") == 1.0
    assert throttle.wait("nama-baru", "198.51.100.1") == 0


def test_failures_are_forgotten_after_the_window_and_memory_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(Limit(free=2, window=60), Limit(free=50), clock=clock, max_keys=10)
    throttle.failed("sari", "a")
    clock.now += 61
    throttle.failed("sari", "a")  # the first is forgotten: this is the first again
    assert throttle.wait("sari", "a") == 0
    for number in range(20):
        throttle.failed(f"n{number}", f"addr{number}")
    assert len(throttle._failures) == 10


# -- the CLI --------------------------------------------------------------------------------------


def city_file(tmp_path: Path) -> str:
    data: dict[str, Any] = {
        "hub": {"data_dir": str(tmp_path / "var"), "streams": {"enabled": False}},
        "owners": [{"id": "sunrise", "name": "Sunrise Mall", "kind": "private"}],
        "responders": [{"id": "damkar", "name": "Damkar", "channels": ["json://127.0.0.1:9/x"]}],
    }
    path = tmp_path / "city.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_the_cli_adds_lists_changes_and_disables_users(tmp_path: Path) -> None:
    config = city_file(tmp_path)
    runner = CliRunner()
    twice = f"{PASSWORD}\n{PASSWORD}\n"
    added = runner.invoke(main, ["users", "add", "Sari", "--role", "operator", "-c", config], twice)
    assert added.exit_code == 0, added.output
    assert added.stdout.endswith("added operator sari\n") and PASSWORD not in added.output
    mismatch = runner.invoke(
        main, ["users", "add", "ana", "--role", "admin", "-c", config], f"{PASSWORD}\nlain\n"
    )
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    scripted = runner.invoke(
        main,
        ["users", "add", "mall-it", "--role", "owner", "--owner", "sunrise", "-c", config],
        env={"PANTAU_PASSWORD": PASSWORD},
    )
    assert scripted.exit_code == 0 and "added owner mall-it for sunrise" in scripted.output
    env = {"PANTAU_PASSWORD": PASSWORD}
    for arguments, problem in [
        (["--role", "owner", "--owner", "pasar"], "no owner 'pasar' (known: sunrise)"),
        (["--role", "responder", "--responder", "bpbd"], "no responder 'bpbd' in the config"),
        (["--role", "boss"], "unknown role 'boss'"),
    ]:
        refused = runner.invoke(main, ["users", "add", "budi", *arguments, "-c", config], env=env)
        assert refused.exit_code == 1 and problem in refused.output, refused.output
    short = runner.invoke(
        main,
        ["users", "add", "budi", "--role", "viewer", "-c", config],
        env={"PANTAU_PASSWORD": "x"},
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    listed = runner.invoke(main, ["users", "list", "-c", config])
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "FOR", "STATE", "LAST", "SIGN-IN", "(UTC)"]
    assert lines[1].split() == ["mall-it", "owner", "sunrise", "active", "never"]
    assert lines[-1] == "2 users"
    new = "Sandi-Baru-Yang-Panjang"
    changed = runner.invoke(main, ["users", "passwd", "sari", "-c", config], f"{new}\n{new}\n")
    assert changed.exit_code == 0 and "changed the password of sari" in changed.output
    disabled = runner.invoke(main, ["users", "disable", "sari", "-c", config])
    assert disabled.exit_code == 0
    as_json = json.loads(runner.invoke(main, ["users", "list", "--json", "-c", config]).stdout)
    assert {u["name"]: u["disabled"] for u in as_json} == {"mall-it": False, "sari": True}
    assert "argon2" not in json.dumps(as_json)
    enabled = runner.invoke(main, ["users", "enable", "sari", "-c", config])
    assert enabled.exit_code == 0 and "enabled sari" in enabled.output
    missing = runner.invoke(main, ["users", "disable", "siapa", "-c", config])
    assert missing.exit_code == 1 and "no user 'siapa'" in missing.output


def test_the_cli_prints_a_token_once_lists_without_it_and_revokes_it(tmp_path: Path) -> None:
    config = city_file(tmp_path)
    runner = CliRunner()
    env = {"PANTAU_PASSWORD": PASSWORD}
    runner.invoke(main, ["users", "add", "budi", "--role", "responder", "--responder", "damkar",
                         "-c", config], env=env)  # fmt: skip
    arguments = ["tokens", "create", "--user", "budi", "--scope", "incidents:read"]
    made = runner.invoke(
        main, [*arguments, "--scope", "incidents:ack", "--expires", "30d", "-c", config]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("pantau_") and "\n" not in secret
    assert "it is not shown again" in made.stderr
    listed = runner.invoke(main, ["tokens", "list", "-c", config])
    assert secret not in listed.output and secret.removeprefix("pantau_") not in listed.output
    row = listed.stdout.splitlines()[1].split()
    token_id = row[0]
    # ID, NAME ("budi <date>"), USER, SCOPES, STATE, EXPIRES (date time), LAST USED
    assert row[3:7] == ["budi", "incidents:ack", "incidents:read", "active"]
    assert row[-1] == "never"
    too_much = runner.invoke(
        main, ["tokens", "create", "--user", "budi", "--scope", "incidents:resolve", "-c", config]
    )
    assert (
        too_much.exit_code == 1 and "a responder cannot have incidents:resolve" in too_much.output
    )
    bad_expiry = runner.invoke(main, [*arguments, "--expires", "soon", "-c", config])
    assert bad_expiry.exit_code == 1 and "--expires takes a duration" in bad_expiry.output
    revoked = runner.invoke(main, ["tokens", "revoke", token_id, "-c", config])
    assert revoked.exit_code == 0 and f"revoked token {token_id}" in revoked.output
    as_json = json.loads(runner.invoke(main, ["tokens", "list", "--json", "-c", config]).stdout)
    assert [t["state"] for t in as_json] == ["revoked"] and secret not in json.dumps(as_json)


def test_the_console_s_account_changes_are_in_the_audit_log_without_secrets(
    tmp_path: Path,
) -> None:
    config = city_file(tmp_path)
    runner = CliRunner()
    env = {"PANTAU_PASSWORD": PASSWORD}
    runner.invoke(main, ["users", "add", "budi", "--role", "responder", "--responder", "damkar",
                         "-c", config], env=env)  # fmt: skip
    made = runner.invoke(
        main, ["tokens", "create", "--user", "budi", "--scope", "incidents:ack", "-c", config]
    )
    secret = made.stdout.strip()
    token_id = (
        runner.invoke(main, ["tokens", "list", "-c", config]).stdout.splitlines()[1].split()[0]
    )
    runner.invoke(main, ["tokens", "revoke", token_id, "-c", config])
    runner.invoke(main, ["users", "disable", "budi", "-c", config])
    listed = runner.invoke(main, ["audit", "list", "--json", "-c", config])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.stdout)
    mine = [r for r in records if r["action"] in ("user.change", "token.create", "token.revoke")]
    assert [(r["action"], r["details"].get("change")) for r in reversed(mine)] == [
        ("user.change", "add"),
        ("token.create", None),
        ("token.revoke", None),
        ("user.change", "disable"),
    ]
    created = next(r for r in mine if r["action"] == "token.create")
    assert created["details"]["token_id"] == token_id
    assert created["details"]["scopes"] == ["incidents:ack"]
    assert all(r["actor"].startswith("console:") for r in mine)
    text = json.dumps(records)
    assert secret not in text and PASSWORD not in text
    assert runner.invoke(main, ["audit", "verify", "-c", config]).exit_code == 0
