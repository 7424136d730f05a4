"""``lienthong audit verify``: recompute the audit trail's hash chain from its first event.

Exit codes: 0 the chain is intact; 1 it is broken (the first bad event is named) or the
anchor given is no longer in it;
2 there is no audit trail to check (missing or never-migrated database, unreachable server).
"""

from __future__ import annotations

import argparse

from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from lienthong.audit import VerifyResult, verify_chain
from lienthong.bootstrap import build_container
from lienthong.cli.database import (
    DatabaseUnavailable,
    require_existing_database,
    shown_url,
    unavailable,
)
from lienthong.settings import Settings
from models.tables import AuditEvent

EXIT_BROKEN = 1


def _verify_configured_database(settings: Settings, anchor: str | None) -> VerifyResult:
    url = settings.resolved_database_url()
    require_existing_database(url)
    container = build_container(settings)
    try:
        if not inspect(container.engine).has_table(AuditEvent.__tablename__):
            raise DatabaseUnavailable(
                f"{shown_url(url)} has no audit trail (never migrated): "
                "run `lienthong db upgrade` first"
            )
        with container.session_factory() as session:
            return verify_chain(session, anchor)
    finally:
        container.close()


def _verify(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        result = _verify_configured_database(settings, args.anchor)
    except (DatabaseUnavailable, DBAPIError) as exc:
        return unavailable(settings.resolved_database_url(), exc)
    if result.first_break is None and result.anchor_found is False:
        print(
            f"audit chain BROKEN: the published head {args.anchor} is no longer in the chain "
            f"(events were removed or rewritten after it; {result.checked} events verified)"
        )
        return EXIT_BROKEN
    if result.first_break is None:
        print(f"audit chain intact: {result.checked} events; head {result.head}")
        return 0
    broken = result.first_break
    print(
        f"audit chain BROKEN at event {broken.event_id}: {broken.problem} "
        f"({result.checked} events before it verified)"
    )
    return EXIT_BROKEN


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="the tamper-evident audit trail")
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify", help="recompute the hash chain; exit 1 and name the first bad event if broken"
    )
    verify.add_argument(
        "--anchor",
        metavar="HASH",
        help="a head hash printed earlier (and kept elsewhere): fail if it is gone, which "
        "reveals deleted newest events",
    )
    verify.set_defaults(func=_verify)
