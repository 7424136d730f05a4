"""``lienthong audit verify``: recompute the audit trail's hash chain from its first event,
replay it and compare the replay with every dossier and step row.

Exit codes: 0 the trail is intact and the record agrees with it; 1 the chain is broken (the
first bad event is named), the anchor is no longer in it, or rows differ from what the
events say (each difference is named by dossier reference); 2 there is no audit trail to
check (missing or never-migrated database, unreachable server), or the anchor published in
Prefect cannot be read.

Deleting the newest events leaves a valid, shorter chain: by default the chain is checked
against the last anchor the ``audit-anchor`` deployment published in Prefect (when a
Prefect API is configured), or against ``--anchor HASH``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from prefect.settings import get_current_settings
from sqlalchemy.exc import DBAPIError

from lienthong.bootstrap import build_container
from lienthong.cli.database import DatabaseUnavailable, require_current_schema, unavailable
from lienthong.models.audit import Anchor, VerifyResult
from lienthong.services.audit_trail import verify
from lienthong.settings import Settings
from lienthong.tasks.audit_anchor import latest_published_anchor

EXIT_BROKEN = 1
EXIT_UNAVAILABLE = 2
# Differences printed one per line; the rest are counted.
SHOWN_MISMATCHES = 100


def _anchor(args: argparse.Namespace, settings: Settings) -> Anchor | None:
    """``--anchor``, else the last one published in Prefect (None: none to check)."""
    if args.anchor:
        return Anchor(args.anchor)
    if args.no_published_anchor:
        return None
    if get_current_settings().api.url is None:
        print(
            "note: no Prefect API configured (PREFECT_API_URL), so no published anchor to "
            "check: deleted newest events would go unnoticed",
            file=sys.stderr,
        )
        return None
    anchor = asyncio.run(latest_published_anchor(settings.audit_anchor.artifact_key))
    if anchor is None:
        print("note: no audit anchor published in Prefect yet", file=sys.stderr)
    return anchor


def _verify_configured_database(settings: Settings, anchor: Anchor | None) -> VerifyResult:
    require_current_schema(settings.resolved_database_url())
    container = build_container(settings)
    try:
        return verify(container, anchor)
    finally:
        container.close()


def _verify(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        anchor = _anchor(args, settings)
    except Exception as exc:
        print(
            f"cannot read the audit anchor published in Prefect ({type(exc).__name__}: {exc}); "
            "pass --no-published-anchor to verify without it",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    try:
        result = _verify_configured_database(settings, anchor)
    except (DatabaseUnavailable, DBAPIError) as exc:
        return unavailable(settings.resolved_database_url(), exc)
    if result.first_break is None and anchor is not None and result.anchor_found is False:
        of_event = f" of event {anchor.event_id}" if anchor.event_id is not None else ""
        print(
            f"audit chain BROKEN: the published head {anchor.head}{of_event} is no longer in "
            f"the chain (events were removed or rewritten after it; {result.checked} events "
            "verified)"
        )
        return EXIT_BROKEN
    if result.first_break is None and result.mismatches:
        _print_mismatches(result)
        return EXIT_BROKEN
    if result.first_break is None:
        anchored = (
            f"; anchor of event {anchor.event_id} found" if anchor and anchor.event_id else ""
        )
        print(f"audit chain intact: {result.checked} events; head {result.head}{anchored}")
        return 0
    broken = result.first_break
    print(
        f"audit chain BROKEN at event {broken.event_id}: {broken.problem} "
        f"({result.checked} events before it verified)"
    )
    return EXIT_BROKEN


def _print_mismatches(result: VerifyResult) -> None:
    count = len(result.mismatches)
    print(
        f"audit trail and record DIFFER: {count} differences between the rows and what "
        f"the {result.checked} events (chain intact, head {result.head}) say"
    )
    for mismatch in result.mismatches[:SHOWN_MISMATCHES]:
        print(f"  {mismatch.reference}: {mismatch.problem}")
    if count > SHOWN_MISMATCHES:
        print(f"  ... and {count - SHOWN_MISMATCHES} more")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="the tamper-evident audit trail")
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help="recompute the hash chain and compare its replay with every dossier and step; "
        "exit 1 and name the first bad event or each differing dossier",
    )
    verify.add_argument(
        "--anchor",
        metavar="HASH",
        help="a head hash printed earlier (and kept elsewhere): fail if it is gone, which "
        "reveals deleted newest events (default: the last anchor published in Prefect)",
    )
    verify.add_argument(
        "--no-published-anchor",
        action="store_true",
        help="do not read the last anchor published in Prefect",
    )
    verify.set_defaults(func=_verify)
