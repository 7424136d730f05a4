"""Engines and sessions for our own database: SQLite by default, PostgreSQL in production.

Nothing is connected at import time; the composition root builds one engine per process.
Engines hide statement parameters from error messages (``hide_parameters``): a failed
INSERT of a dossier would otherwise quote the citizen's personal ID wherever its error
goes. :func:`database_error` goes further at the boundary of a Prefect task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseUnavailable(Exception):
    """Our database could not be reached, dropped the connection or was busy: transient,
    retried and resumed like an unreachable agency. The message names the error's type
    only, never the statement, its parameters or the server's words."""


class DatabaseFault(Exception):
    """Any other database error (a constraint, a schema mismatch): permanent, for a
    person. Like :class:`DatabaseUnavailable`, its message holds no data."""


# Errors about the connection or the server's state rather than about our statement.
_TRANSIENT = (
    sa_exc.OperationalError,  # connection lost or refused, server shutting down, locked
    sa_exc.InterfaceError,  # the driver's connection is closed
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no connection free in the pool
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


def database_error(exc: sa_exc.SQLAlchemyError) -> DatabaseUnavailable | DatabaseFault:
    """``exc`` as an exception whose text may go anywhere (Prefect states, events, logs).

    SQLAlchemy's messages quote the statement, and the driver's may quote values (a
    unique violation's DETAIL); only the types are kept. Raise the result ``from None``
    so the original is not printed as its context either.
    """
    driver_error = exc.orig if isinstance(exc, sa_exc.DBAPIError) else None
    kind = type(driver_error or exc).__name__
    if is_transient(exc):
        return DatabaseUnavailable(f"database unavailable ({kind})")
    return DatabaseFault(f"database error ({kind}); see the database's own log")


@contextmanager
def database_errors_scrubbed() -> Iterator[None]:
    """Let no SQLAlchemy error out of the block: each leaves as :func:`database_error`."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise database_error(exc) from None


def canonical_json(value: Any) -> str:
    """JSON columns are written compact with keys sorted: an audit event's details are then
    stored exactly as they are hashed (models/audit.py) whenever they are ASCII, which
    verification relies on for speed (others are canonicalised when verified). Non-ASCII
    stays escaped, so any string, even a lone surrogate in a rejected dossier, is stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, with the settings each backend needs to be a safe record."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", canonical_json)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
    _make_sqlite_transactions_immediate(engine)
    return engine


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write.

    With the driver's deferred transactions, two writers can both read (say, the audit
    chain's head) and then one fails on upgrade to a write lock. ``BEGIN IMMEDIATE``
    makes them queue instead, waiting up to the busy timeout.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def without_jit(session: Session) -> None:
    """On PostgreSQL, no JIT compilation for the rest of the transaction: the report's and
    the sweep's queries are short aggregates and scans whose estimated cost (per-row
    look-ups, many rows) crosses JIT's threshold, but compiling them costs more than it
    saves (1.6 s of compilation for a 20 ms report scan; the sweep's candidates 0.2-0.3 s
    slower with it: benchmarks/report_1m.py). Nothing to do on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
