"""``lienthong list`` (the worklist: what needs a person) and ``lienthong hand-back``.

Exit codes: 0 listed / handed back; 1 bad input (an unknown reference, nothing to hand
back); 2 the database cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from zoneinfo import ZoneInfo

from lienthong.bootstrap import current_container
from lienthong.cli import identity
from lienthong.cli.chains import announce_action
from lienthong.cli.database import needs_database
from lienthong.models.clients import Action
from lienthong.models.lifecycle import CannotHandBack, DossierNotFound
from lienthong.models.report import Scope
from lienthong.models.report_form import unit_label
from lienthong.models.status import Chain, DossierStatus
from lienthong.models.wording import Language, say, word
from lienthong.models.worklist import DossierQuery, WorkFilter
from lienthong.models.worklist_text import as_json, line
from lienthong.services.hand_back import hand_back
from lienthong.services.worklist import worklist

EXIT_OK = 0
EXIT_INVALID = 1


def _filter(args: argparse.Namespace) -> WorkFilter:
    statuses = frozenset(args.status) if args.status else None
    query = DossierQuery(chain=args.chain, statuses=statuses, include_settled=args.all)
    return WorkFilter(query, late=True if args.late else None, needs_action=args.needs_action)


def _list(args: argparse.Namespace) -> int:
    container = current_container()
    language: Language = container.settings.language
    timezone = container.settings.calendar.timezone
    scope = Scope(province=args.province, commune=args.commune)
    found = worklist(container, scope, _filter(args))
    if args.json:
        items = [as_json(item, language, timezone) for item in found.items]
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return EXIT_OK
    at = container.clock.now()
    print(
        say(
            "worklist_title",
            language,
            unit=unit_label(scope),
            count=len(found.items),
            at=at.astimezone(ZoneInfo(timezone)).strftime("%H:%M %d/%m/%Y"),
        )
    )
    if not found.items:
        print(say("nothing_to_do", language))
    for item in found.items:
        text = line(item, language, timezone)
        mark = "!" if text.late else " "
        print(f"{mark} {text.reference:<18} {text.status:<30} {text.lateness:<14} {text.chain}")
        for task in text.tasks:
            print(f"    • {task}")
        for command in text.commands:
            print(f"      → {command}")
    return EXIT_OK


def _hand_back(args: argparse.Namespace) -> int:
    container = current_container()
    language: Language = container.settings.language
    try:
        actor = identity.acting_on_record(
            container, identity.caller(container, args), Action.HAND_BACK, args.reference
        )
        status = hand_back(container, args.reference, actor)
    except (DossierNotFound, CannotHandBack) as exc:
        print(
            "error: " + say("cannot_hand_back", language, reference=args.reference, why=exc),
            file=sys.stderr,
        )
        return EXIT_INVALID
    print(say("handed_back", language, reference=args.reference, status=word(status, language)))
    announce_action(args.reference, "handed_back", actor)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "list",
        help="the worklist: dossiers of a commune or province and what each needs "
        "(supplements due, results to hand back, stopped steps, overdue decisions)",
    )
    listing.add_argument("--commune", metavar="CODE", help="one commune (its 5-digit code)")
    listing.add_argument(
        "--province", metavar="CODE", help="one province (a current one counts its old ones)"
    )
    listing.add_argument("--chain", type=Chain, choices=list(Chain))
    listing.add_argument(
        "--status",
        type=DossierStatus,
        choices=list(DossierStatus),
        action="append",
        help="only dossiers in this status (repeatable)",
    )
    listing.add_argument("--late", action="store_true", help="only late dossiers")
    listing.add_argument(
        "--needs-action", action="store_true", help="only dossiers that need a person"
    )
    listing.add_argument(
        "--all", action="store_true", help="also withdrawn and handed-back dossiers"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable, codes and words")
    listing.set_defaults(func=needs_database(_list))

    back = subparsers.add_parser(
        "hand-back",
        help="record that the result, the written refusal or the rejected papers were handed "
        "back to the citizen (it leaves the worklist)",
    )
    back.add_argument("reference", metavar="REF")
    identity.add_identity_argument(back)
    back.set_defaults(func=needs_database(_hand_back))
