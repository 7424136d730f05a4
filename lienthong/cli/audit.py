"""``lienthong audit verify``: recompute the audit trail's hash chain from its first event.

Exit codes: 0 the chain is intact; 1 it is broken (the first bad event is named) or the
anchor given is no longer in it;
2 there is no audit trail to check (missing or never-migrated database, unreachable server).
"""

from __future__ import annotations

import argparse

from sqlalchemy.exc import DBAPIError

from lienthong.bootstrap import build_container
from lienthong.cli.database import DatabaseUnavailable, require_current_schema, unavailable
from lienthong.models.audit import VerifyResult
from lienthong.services.audit_trail import verify
from lienthong.settings import Settings

EXIT_BROKEN = 1


def _verify_configured_database(settings: Settings, anchor: str | None) -> VerifyResult:
    require_current_schema(settings.resolved_database_url())
    container = build_container(settings)
    try:
        return verify(container, anchor)
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
