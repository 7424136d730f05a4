"""`lienthong duplicates`: dossiers held at intake as potential duplicates, and decisions.

list     the dossiers held now (in a province or commune), longest held first
show     one dossier's hold: the dossiers it may repeat, by which rule, and any decision
resolve  a person's decision: --distinct (the chain goes on), --merge-into REF, --reject
figures  a month's figures for the report (held, decided, still held)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from zoneinfo import ZoneInfo

from lienthong.bootstrap import current_container
from lienthong.cli import identity

# The chain of a dossier confirmed distinct goes on as after a supplement.
from lienthong.cli.chains import _continue_and_report as continue_and_report
from lienthong.cli.database import needs_database
from lienthong.models.clients import Action
from lienthong.models.report import Period, Scope
from lienthong.services.duplicates import (
    CannotResolve,
    Decision,
    DossierNotFound,
    HeldDossier,
    NotHeld,
    duplicate_figures,
    held_dossier,
    held_dossiers,
    resolve,
)

EXIT_OK = 0
EXIT_INVALID = 1


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _matches(held: HeldDossier) -> str:
    return "; ".join(
        f"{m.reference} ({', '.join(r.value for r in m.rules)}, {m.status.value}, "
        f"commune {m.commune_code})"
        for m in held.matches
    )


def _list(args: argparse.Namespace) -> int:
    held = held_dossiers(current_container(), Scope(args.province, args.commune))
    if args.json:
        _print_json([asdict(h) for h in held])
        return EXIT_OK
    if not held:
        print("no dossier is held as a potential duplicate")
    for h in held:
        print(f"{h.reference}  {h.chain}  commune {h.commune_code}  held {h.held_at}")
        print(f"  may repeat: {_matches(h)}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    try:
        held = held_dossier(current_container(), args.reference)
    except (DossierNotFound, NotHeld) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        _print_json(asdict(held))
        return EXIT_OK
    print(
        f"{held.reference}  {held.chain}  {held.status.value}  commune {held.commune_code}"
        f"  held {held.held_at}"
    )
    for m in held.matches:
        rules = ", ".join(r.value for r in m.rules)
        print(
            f"  may repeat {m.reference}: same {rules}; it is {m.status.value}, "
            f"commune {m.commune_code}, received {m.received_at}"
        )
    if held.decision is None:
        print(
            f"undecided: `lienthong duplicates resolve {held.reference} (--distinct | "
            "--merge-into REF | --reject) --reason TEXT`"
        )
    else:
        into = f" into {held.merged_into}" if held.merged_into else ""
        print(
            f"decided {held.decision.value}{into} by {held.decided_by} at {held.decided_at}: "
            f"{held.reason}"
        )
    return EXIT_OK


def _resolve(args: argparse.Namespace) -> int:
    container = current_container()
    decision = Decision.MERGE if args.merge_into else Decision(args.decision)
    try:
        actor = identity.acting_on_record(
            container, identity.caller(container, args), Action.RESOLVE, args.reference
        )
        held = resolve(
            container,
            args.reference,
            decision,
            reason=args.reason,
            actor=actor,
            into=args.merge_into,
        )
    except (DossierNotFound, NotHeld, CannotResolve) as exc:
        print(f"error: {exc}; nothing changed", file=sys.stderr)
        return EXIT_INVALID
    into = f" into {held.merged_into}" if held.merged_into else ""
    print(f"{held.decision} {held.reference}{into}: {held.status.value}")
    if decision != Decision.DISTINCT or args.no_run:
        return EXIT_OK
    return continue_and_report(held.reference, args.deploy)


def _figures(args: argparse.Namespace) -> int:
    container = current_container()
    timezone = ZoneInfo(container.settings.calendar.timezone)
    try:
        period = Period.of_month(args.month, timezone)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    figures = duplicate_figures(container, period, Scope(args.province, args.commune))
    if args.json:
        _print_json(asdict(figures))
        return EXIT_OK
    print(
        f"{args.month}: held {figures.held}; decided distinct {figures.distinct}, merged "
        f"{figures.merged}, rejected {figures.rejected}; still held {figures.still_held}"
    )
    return EXIT_OK


def _scoped(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--province", help="a province code (old ones count under it)")
    parser.add_argument("--commune", help="a commune code")
    parser.add_argument("--json", action="store_true")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    duplicates = subparsers.add_parser(
        "duplicates",
        help="dossiers held at intake as potential duplicates: list, show, decide",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = duplicates.add_subparsers(dest="duplicates_command", required=True)

    listing = commands.add_parser("list", help="the dossiers held now, longest held first")
    _scoped(listing)
    listing.set_defaults(func=needs_database(_list))

    show = commands.add_parser("show", help="one dossier's hold and the dossiers it may repeat")
    show.add_argument("reference", metavar="REF")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=needs_database(_show))

    decide = commands.add_parser(
        "resolve", help="decide on a held dossier (audited): distinct, merge or reject"
    )
    decide.add_argument("reference", metavar="REF")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--distinct",
        dest="decision",
        action="store_const",
        const=Decision.DISTINCT.value,
        help="not the same person (e.g. twins): the chain starts",
    )
    choice.add_argument(
        "--merge-into",
        metavar="REF",
        help="the same case as REF (one it was held for): closed, linked to REF",
    )
    choice.add_argument(
        "--reject",
        dest="decision",
        action="store_const",
        const=Decision.REJECT.value,
        help="a duplicate submission: closed as rejected",
    )
    decide.add_argument("--reason", required=True, help="recorded in the audit trail")
    identity.add_identity_argument(decide)
    decide.add_argument("--no-run", action="store_true", help="distinct: do not start the chain")
    decide.add_argument("--deploy", action="store_true", help="distinct: through the deployments")
    decide.set_defaults(func=needs_database(_resolve))

    figures = commands.add_parser("figures", help="a month's duplicate figures for the report")
    figures.add_argument("--month", required=True, help="YYYY-MM")
    _scoped(figures)
    figures.set_defaults(func=needs_database(_figures))
