from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, inspect

from hub.store import Base, Database, alembic_config


async def _differences(db: Database, metadata: MetaData) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with db.engine.connect() as connection:
        return await connection.run_sync(compare)


async def test_the_migrations_build_exactly_what_the_models_declare(db: Database) -> None:
    assert await _differences(db, Base.metadata) == []


async def test_the_drift_check_would_notice_a_model_change(db: Database) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["cameras"].append_column(Column("zoom", Integer, nullable=True))
    differences = await _differences(db, drifted)
    assert [d[0] for d in differences] == ["add_column"]


async def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    db = Database(db_url)
    await db.start()

    def down(connection: Connection) -> set[str]:
        command.downgrade(alembic_config(connection=connection), "base")
        return set(inspect(connection).get_table_names())

    try:
        async with db.engine.begin() as connection:
            remaining = await connection.run_sync(down)
    finally:
        await db.close()
    assert remaining == {"alembic_version"}
