"""Alembic's entry point: run the migrations online against the URL in the Config.

The URL comes from the programmatic Config built by :func:`migrations.alembic_config`,
never from an ini file or the environment, so the caller decides which database is migrated.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from lienthong.adapters.database import make_engine
from lienthong.adapters.tables import Base


def _turn_sqlite_foreign_keys_off(engine: Any) -> None:
    """Let batch migrations rebuild SQLite tables that other tables refer to.

    ``make_engine`` turns foreign keys on for every connection; SQLite's documented way to
    redefine a table (copy, drop, rename, as Alembic's batch mode does) needs them off, and
    the pragma is ignored inside a transaction, so it is set when the connection opens.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url in the Alembic config: use migrations.alembic_config")
    engine = make_engine(url, poolclass=NullPool)
    is_sqlite = engine.dialect.name == "sqlite"
    if is_sqlite:
        _turn_sqlite_foreign_keys_off(engine)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=is_sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
