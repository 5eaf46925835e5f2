"""Shared database fixtures: a SQLite file per test, and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.store import Base, Database
from tests.incidents.receivers import WebhookReceiver

pytest_plugins = ["tests.secret_scan"]  # no secret in any log line of the run

POSTGRES_USER = "pantau"


@dataclass(frozen=True)
class PostgresCluster:
    """A running PostgreSQL server that trusts local connections as `pantau`."""

    host: str
    port: int
    bin_dir: Path

    def url(self, database: str) -> str:
        """An asyncpg SQLAlchemy URL for one database of this cluster."""
        return f"postgresql+asyncpg://{POSTGRES_USER}@{self.host}:{self.port}/{database}"

    def client(self, program: str, *args: str) -> None:
        """Run a client program (createdb, dropdb) against this cluster."""
        where = ["-h", self.host, "-p", str(self.port), "-U", POSTGRES_USER]
        subprocess.run([str(self.bin_dir / program), *where, *args], check=True)


def _postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's versioned folders first, then PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    found = candidates[0] if candidates else shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> tuple[list[str], str | None]:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return command, None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--", *command], user
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster for the session; stop and delete it at the end."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin"
            " or on PATH; install them (Debian/Ubuntu: apt-get install -y postgresql)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="pantau-pg-"))
    data, log_file = root / "data", root / "server.log"
    _, user = _as_server_user([])
    if user is not None:
        shutil.chown(root, user=user)

    def run(*args: str) -> None:
        command, _ = _as_server_user([str(bin_dir / args[0]), *args[1:]])
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            server_log = log_file.read_text() if log_file.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}{server_log}")

    port = _free_port()
    try:
        run("initdb", "-D", str(data), "-U", POSTGRES_USER, "--auth=trust", "-E", "UTF8", "-N")
        # Durability is worthless for a throwaway cluster; speed is not.
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        run("pg_ctl", "-D", str(data), "-l", str(log_file), "-o", options, "-w", "start")
        try:
            yield PostgresCluster("127.0.0.1", port, bin_dir)
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


_database_numbers = itertools.count(1)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database on the session's cluster, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    postgres_cluster.client("createdb", name)
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.client("dropdb", "--force", name)


@pytest.fixture(scope="session")
def postgres_shared_url(postgres_cluster: PostgresCluster) -> str:
    """One database for the session's `db` tests, emptied before each (creating one costs ~1 s)."""
    name = f"shared_{os.getpid()}"
    postgres_cluster.client("createdb", name)
    return postgres_cluster.url(name)  # gone with the cluster


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'pantau.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each `db` test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "pantau.db"

    async def migrate() -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        await database.start()
        await database.close()

    asyncio.run(migrate())
    return path


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL behind `db`: a new SQLite file, or the session's shared PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_shared_url")
        return url
    path = tmp_path / "var" / "pantau.db"
    path.parent.mkdir()
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    """A started, migrated, empty database on each backend, closed after the test."""
    database = Database(store_url)
    await database.start()
    try:
        if database.dialect == "postgresql":
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            async with database.engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield database
    finally:
        await database.close()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver answering 200."""
    server = WebhookReceiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
