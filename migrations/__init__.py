"""Alembic migrations for our database, configured in code rather than an alembic.ini.

``lienthong db upgrade`` and the tests call :func:`upgrade_database`; it works from any
working directory because the script location is this package's directory, wherever it is
installed, and the database URL is passed in rather than read from a file.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from lienthong.adapters.database import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """The equivalent of an alembic.ini, for ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # New revision files read 0002_<slug>.py, like 0001_initial.py.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # The option is interpolated by ConfigParser: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` to the database at ``url``."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The revision the code expects the database to be at."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
