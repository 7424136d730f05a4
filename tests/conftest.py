"""Database fixtures shared by every test layer.

``database_url`` is parametrized over SQLite and PostgreSQL, so a test that asks for it (or
for ``engine``, ``session_factory`` or ``container``) runs once per backend. Both databases
are already migrated to head and empty when the test starts:

- SQLite: a copy, in ``tmp_path``, of a file migrated once per session;
- PostgreSQL: one throwaway database per session (``lienthong_test_<random>``) on the server
  at ``LIENTHONG_TEST_POSTGRES_URL``, truncated before each test.

To run a test on one backend only, override the parameter:
``@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)``.
PostgreSQL cases carry the ``postgres`` marker (``-m "not postgres"`` deselects them). When
the server is unreachable they are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from lienthong.adapters.database import make_engine, make_session_factory
from lienthong.adapters.sql_unit_of_work import SqlUnitOfWork
from lienthong.adapters.tables import Base
from lienthong.bootstrap import build_container
from lienthong.migrations import upgrade_database
from lienthong.services.container import Container
from lienthong.settings import Settings

# The real browser (Playwright driving Debian's Chromium) for tests of web pages.
pytest_plugins = ["tests.browser"]

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")

# Hypothesis's per-example deadline (200 ms) is a timing check: on two loaded cores it fails
# correct code now and then. Speed is measured by benchmarks/, not by the tests.
hypothesis_settings.register_profile("lienthong", deadline=None)
hypothesis_settings.load_profile("lienthong")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every PostgreSQL case, including those that override ``database_url``."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgresql" in (
            callspec.params.get("database_url"),
            callspec.params.get("empty_database_url"),
        ):
            item.add_marker(pytest.mark.postgres)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``pytest -m "not e2e"`` does not even import tests/e2e (Prefect's test server and its
    imports cost seconds for tests that would all be deselected)."""
    selected = " ".join(config.option.markexpr.split())
    if selected == "not e2e" and collection_path == Path(__file__).parent / "e2e":
        return True
    return None


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy (much faster than Alembic).

    The migration's engine is disposed, so the WAL is checkpointed into the file and the
    file alone is a complete database.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "lienthong.db"
    upgrade_database(_sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_server_url() -> URL:
    """The PostgreSQL server's maintenance database, checked to be reachable."""
    url = make_url(os.environ.get("LIENTHONG_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = (
            f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)} "
            f"(set LIENTHONG_TEST_POSTGRES_URL): {exc.orig}"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


def _admin_execute(server_url: URL, statement: str) -> None:
    """CREATE / DROP DATABASE cannot run inside a transaction: use autocommit."""
    engine = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _throwaway_postgres_databases(postgres_server_url: URL) -> Iterator[list[str]]:
    """Names of the databases created this session, all dropped at its end."""
    created: list[str] = []
    yield created
    for engine in _CLEANING_ENGINES.values():
        engine.dispose()
    for name in created:
        _admin_execute(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create_postgres_database(server_url: URL, created: list[str]) -> str:
    name = f"lienthong_test_{secrets.token_hex(6)}"
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    created.append(name)
    return server_url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _migrated_postgres_url(
    postgres_server_url: URL, _throwaway_postgres_databases: list[str]
) -> str:
    url = _create_postgres_database(postgres_server_url, _throwaway_postgres_databases)
    upgrade_database(url)
    return url


# One pooled engine per test database for emptying it (a connection each time costs).
_CLEANING_ENGINES: dict[str, Engine] = {}


def _cleaning_engine(url: str) -> Engine:
    if url not in _CLEANING_ENGINES:
        _CLEANING_ENGINES[url] = create_engine(url)
    return _CLEANING_ENGINES[url]


def _empty_postgres_tables(url: str) -> None:
    """Delete every row (a DELETE of a few rows takes a millisecond, a TRUNCATE fifty);
    ``replica`` mode silences the append-only audit triggers. Ids keep counting."""
    with _cleaning_engine(url).begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database migrated to head, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "lienthong.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite_template"), path)
        return _sqlite_url(path)
    url: str = request.getfixturevalue("_migrated_postgres_url")
    _empty_postgres_tables(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database that exists but was never migrated, on each backend."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path / "empty.db")
    return _create_postgres_database(
        request.getfixturevalue("postgres_server_url"),
        request.getfixturevalue("_throwaway_postgres_databases"),
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def container(database_url: str, tmp_path: Path) -> Iterator[Container]:
    """The application's composition root on the test database (with its own engine).

    Swap parts with ``dataclasses.replace(container, clock=...)``.
    """
    container = build_container(Settings(database_url=database_url, data_dir=tmp_path / "data"))
    yield container
    container.close()


def record_session(container: Container) -> Session:
    """A session on the container's own database, to arrange rows or read them back."""
    with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork), "a container over the real database"
        bind = uow.session.get_bind()
    return Session(bind=bind, expire_on_commit=False)
