"""``lienthong db``: bring the database schema up to date, or say where it stands.

Exit codes: 0 done / at head; 1 ``current`` found the database behind head or never
migrated; 2 the database cannot be opened (missing SQLite file, unreachable server).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from lienthong.migrations import current_revision, head_revision, upgrade_database
from lienthong.settings import Settings

EXIT_BEHIND = 1
EXIT_UNAVAILABLE = 2


class DatabaseUnavailable(Exception):
    """The configured database cannot be used: the message says why and what to do."""


def shown_url(url: str) -> str:
    """``url`` fit for printing: the password is hidden."""
    return make_url(url).render_as_string(hide_password=True)


def require_existing_database(url: str) -> None:
    """Refuse a SQLite file that does not exist, rather than silently creating an empty one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if not Path(parsed.database).exists():
        raise DatabaseUnavailable(
            f"no database at {parsed.database}: run `lienthong db upgrade` to create it"
        )


def require_current_schema(url: str) -> None:
    """Refuse a database that is missing or not migrated to this version's schema."""
    require_existing_database(url)
    current, head = current_revision(url), head_revision()
    if current != head:
        where = "never migrated" if current is None else f"at revision {current}"
        raise DatabaseUnavailable(
            f"{shown_url(url)} is {where}; this version needs {head}: run `lienthong db upgrade`"
        )


def needs_database(handler: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run ``handler`` only on a migrated database; report an unusable one, exit code 2."""

    @functools.wraps(handler)
    def checked(args: argparse.Namespace) -> int:
        url = Settings().resolved_database_url()
        try:
            require_current_schema(url)
            return handler(args)
        except (DatabaseUnavailable, DBAPIError) as exc:
            return unavailable(url, exc)

    return checked


def unavailable(url: str, error: DatabaseUnavailable | DBAPIError) -> int:
    """Say on stderr why the database at ``url`` cannot be read; the exit code for that."""
    if isinstance(error, DBAPIError):
        cause = str(error.orig).strip().splitlines() or [type(error.orig).__name__]
        print(
            f"cannot read {shown_url(url)}: {cause[0]}: start the database, or set "
            "LIENTHONG_DATABASE_URL",
            file=sys.stderr,
        )
    else:
        print(error, file=sys.stderr)
    return EXIT_UNAVAILABLE


def _upgrade(args: argparse.Namespace) -> int:
    url = Settings().resolved_database_url()
    try:
        before = current_revision(url)
        upgrade_database(url)
        after = current_revision(url)
    except DBAPIError as exc:
        print(f"cannot upgrade {shown_url(url)}: {exc.orig}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if before == after:
        print(f"{shown_url(url)}: already at revision {after} (head), nothing to do")
    else:
        print(f"{shown_url(url)}: upgraded from {before or 'an empty database'} to {after} (head)")
    return 0


def _current(args: argparse.Namespace) -> int:
    url = Settings().resolved_database_url()
    try:
        require_existing_database(url)
        revision = current_revision(url)
    except (DatabaseUnavailable, DBAPIError) as exc:
        return unavailable(url, exc)
    head = head_revision()
    if revision == head:
        print(f"{shown_url(url)}: revision {revision} (head)")
        return 0
    where = f"revision {revision}" if revision else "never migrated"
    print(f"{shown_url(url)}: {where}; head is {head}: run `lienthong db upgrade`")
    return EXIT_BEHIND


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("db", help="database schema migrations")
    commands = parser.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    commands.add_parser(
        "upgrade", help="migrate the configured database to the latest schema (head)"
    ).set_defaults(func=_upgrade)
    commands.add_parser(
        "current", help="show the database's schema revision; exit 1 when it is not head"
    ).set_defaults(func=_current)
