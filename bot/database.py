"""Connecting to the database and bringing its schema up to date (Alembic, only when needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6368617462  # an arbitrary constant key for pg_advisory_xact_lock
SCHEMA_HEAD = "0007"
"""The newest revision in `migrations/versions` (a test keeps the two equal)."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the bot (a rolling upgrade half done)."""


def make_engine(url: str) -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with full fsync, PostgreSQL pooled."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=_json_dumps
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_json_dumps)


def _json_dumps(value: Any) -> str:
    """JSON columns (slots, entities, ranking) through orjson: the log writer's hot path."""
    return orjson.dumps(value).decode()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creating it on an empty database).

    A database already at `SCHEMA_HEAD` costs one query: Alembic is imported only when there
    is something to do, which keeps it out of a server's start-up time and memory.
    """
    revision = schema_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if revision is not None and revision not in {
        s.revision for s in ScriptDirectory.from_config(config).walk_revisions()
    }:
        raise SchemaTooNew(
            f"the database schema is at revision {revision}, newer than this version of the bot ({SCHEMA_HEAD}); "
            "run the newer version"
        )
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Instances starting together: one migrates, the others wait and find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
