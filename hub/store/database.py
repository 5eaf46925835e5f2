"""One database handle: engine, sessions and schema migrations, for SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration built in code: no alembic.ini to ship or to lose."""
    config = AlembicConfig()
    # configparser interpolates '%', so escape it in paths and URLs.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging: readers never block a writer's commit, nor the writer them. In the
    # default rollback journal a query still reading (the registry, the API) holds a commit of
    # the outbox until the busy timeout, and "database is locked" loses a delivery's result.
    # Durable against a killed process; synchronous stays FULL against power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def unbroken(work: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run a write transaction to its end, commit or rollback, even if its caller is cancelled.

    A task cancelled while it awaits a statement leaves that statement running in aiosqlite's
    thread; SQLAlchemy then drops the connection, which stays open until the garbage collector
    finds it, holding the write lock: every other writer waits out the busy timeout and fails
    with "database is locked" (an incident or a delivery's result lost). Stopping the hub
    cancels background tasks wherever they are, so each method that writes runs in a task of
    its own that no cancellation reaches; a cancelled caller waits for it, then is cancelled.
    """

    @functools.wraps(work)
    async def whole(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(work(*args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait([task])  # a second cancellation leaves it to finish alone
            error = None if task.cancelled() else task.exception()
            if error is not None:
                # Not the exception itself: SQLAlchemy's text carries the statement's values.
                cause = error.orig if isinstance(error, DBAPIError) else error
                log.warning(
                    "%s failed after its caller was cancelled: %s: %s",
                    work.__qualname__,
                    type(cause).__name__,
                    cause,
                )
            raise

    return whole


class Database:
    """The store of one hub: `start()` opens and migrates, `session()` works, `close()` ends."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        """The backend's name: 'sqlite' or 'postgresql'."""
        return self._url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The async engine; only after `start()`."""
        if self._engine is None:
            raise RuntimeError("database is not started; await Database.start() first")
        return self._engine

    async def start(self) -> None:
        """Create the SQLite file's folder, open the engine and upgrade the schema to head."""
        if self._engine is not None:
            return
        if self.dialect == "sqlite":
            self._make_sqlite_folder()
        engine = create_async_engine(self._url)
        if self.dialect == "sqlite":
            event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(self._upgrade)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("database ready: %r", self)

    def session(self) -> AsyncSession:
        """A new session, to use as `async with db.session() as session:`."""
        if self._sessions is None:
            raise RuntimeError("database is not started; await Database.start() first")
        return self._sessions()

    async def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    def _make_sqlite_folder(self) -> None:
        database = self._url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection=connection), "head")
