"""Operator commands: submit dossiers, follow them, resume them, supplement them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from datetime import datetime

from lienthong.adapters.dossier_files import DossierFileError, load_dossier_file
from lienthong.bootstrap import current_container, run_async
from lienthong.cli import identity
from lienthong.cli.database import needs_database
from lienthong.models.clients import Action
from lienthong.models.lifecycle import CannotWithdraw, DossierNotFound
from lienthong.models.status import STOPPED_STEP_STATUSES, DossierStatus, StepStatus
from lienthong.models.supplements import SupplementNotAllowed
from lienthong.models.validation import DossierInvalid
from lienthong.services.calendar_gaps import swaps_missing_warning, years_without_swaps
from lienthong.services.container import Container
from lienthong.services.intake import DuplicateReference, IntakeResult, receive
from lienthong.services.supplements import NotAwaitingSupplement, record_supplement
from lienthong.services.views import DossierView, Waiting, events, load_view, waiting_of
from lienthong.services.withdrawal import withdraw

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_STEP_FAILED = 3


def _print_intake(result: IntakeResult) -> None:
    if result.accepted:
        note = f" — late filing: {result.late_filing_reason}" if result.late_filing_reason else ""
        print(f"received  {result.reference} ({result.chain}){note}")
        return
    print(f"REJECTED  {result.reference}: kept on record as rejected")
    for problem in result.problems:
        print(f"  {problem.path}: {problem.message}")


def _run_and_report(references: list[str], deploy: bool) -> int:
    from lienthong.flows.runner import hand_to_deployment, run_here, runnable

    entries = runnable(current_container(), references)
    if deploy:

        async def hand_all() -> None:
            for reference, chain, tags in entries:
                flow_run = await hand_to_deployment(reference, chain, tags)
                print(f"queued    {reference}: flow run {flow_run.id}")

        asyncio.run(hand_all())
        return EXIT_OK
    run_async(run_here(entries))
    container = current_container()
    exit_code = EXIT_OK
    for reference, _, _ in entries:
        view = load_view(container, reference)
        print(_one_line(view))
        if any(s.status in STOPPED_STEP_STATUSES for s in view.steps):
            exit_code = EXIT_STEP_FAILED
    return exit_code


def _one_line(view: DossierView) -> str:
    steps = ", ".join(f"{s.kind.value}={s.status.value}" for s in view.steps)
    return f"{view.status.value:<20} {view.reference}: {steps}"


def _warn_if_calendar_unknown(container: Container, *due: str | None) -> None:
    """One line on stderr when due dates reach a year whose day swaps are not configured."""
    instants = [datetime.fromisoformat(at) for at in due if at is not None]
    if years := years_without_swaps(container, *instants):
        print(f"WARNING   {swaps_missing_warning(years)}", file=sys.stderr)


def _submit(args: argparse.Namespace) -> int:
    container = current_container()
    client = identity.caller(container, args)
    accepted: list[str] = []
    any_invalid = False
    for path in args.files:
        # Only what is not a dossier (unreadable, not JSON, too large) or is one already on
        # record is turned away here: every JSON object is kept, accepted or rejected.
        try:
            raw = load_dossier_file(path, container.settings.limits)
            actor = identity.acting_on_raw(container, client, Action.SUBMIT, raw)
            result = receive(container, raw, actor)
        except (DossierFileError, DuplicateReference) as exc:
            message = str(exc)
            print(
                f"ERROR     {message if path in message else f'{path}: {message}'}", file=sys.stderr
            )
            any_invalid = True
            continue
        _print_intake(result)
        if result.accepted:
            accepted.append(result.reference)
        else:
            any_invalid = True
    if accepted:
        _warn_if_calendar_unknown(container)
    exit_code = _run_and_report(accepted, args.deploy) if accepted and not args.no_run else 0
    return EXIT_INVALID if any_invalid else exit_code


def _run(args: argparse.Namespace) -> int:
    """Resume each dossier's paused run (never a second run beside it), or run its chain."""
    from lienthong.flows.continuation import paused_run
    from lienthong.flows.runner import NothingToRun

    container = current_container()
    fresh: list[str] = []
    exit_code = EXIT_OK
    try:
        for reference in args.references:
            load_view(container, reference)  # an unknown reference stops here
            paused = run_async(paused_run(reference))
            if paused is None:
                fresh.append(reference)
                continue
            waiting = waiting_of(container, reference)
            if waiting is not None:
                print(
                    f"error: {reference} is {waiting.message()}; its run {paused.name} resumes "
                    f"when {_what_resumes(waiting)}: nothing started",
                    file=sys.stderr,
                )
                exit_code = max(exit_code, EXIT_INVALID)
                continue
            exit_code = max(exit_code, _continue_and_report(reference, args.deploy))
        if fresh:
            exit_code = max(exit_code, _run_and_report(fresh, args.deploy))
    except (DossierNotFound, NothingToRun) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return exit_code


def _what_resumes(waiting: Waiting) -> str:
    if waiting.status == StepStatus.AWAITING_SUPPLEMENT:
        return f"the supplement is recorded (`lienthong supplement {waiting.reference} FILE.json`)"
    return (
        "the decision is recorded (`lienthong api` receives it; `lienthong sweep` polls for "
        "an overdue one)"
    )


def _supplement(args: argparse.Namespace) -> int:
    container = current_container()
    try:
        supplement = load_dossier_file(args.file, container.settings.limits)
        actor = identity.acting_on_record(
            container, identity.caller(container, args), Action.SUPPLEMENT, args.reference
        )
        step = record_supplement(container, args.reference, supplement, actor)
    except DossierInvalid as invalid:
        print(f"supplement for {args.reference} not accepted; nothing changed:", file=sys.stderr)
        for problem in invalid.problems:
            print(f"  {problem.path}: {problem.message}", file=sys.stderr)
        return EXIT_INVALID
    except (DossierNotFound, NotAwaitingSupplement, SupplementNotAllowed, DossierFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"supplement recorded for {args.reference}; {step} will be sent again")
    if args.no_run:
        return EXIT_OK
    return _continue_and_report(args.reference, args.deploy)


def _continue_and_report(reference: str, deploy: bool) -> int:
    """Resume the dossier's waiting run (or start one): here, or through the deployments."""
    from lienthong.flows.continuation import continue_dossier

    container = current_container()
    how = run_async(continue_dossier(container, reference, deploy=deploy))
    view = load_view(container, reference)
    print(f"{how.value:<9} {_one_line(view)}")
    stopped = any(s.status in STOPPED_STEP_STATUSES for s in view.steps)
    return EXIT_STEP_FAILED if stopped else EXIT_OK


def _withdraw(args: argparse.Namespace) -> int:
    container = current_container()
    try:
        actor = identity.acting_on_record(
            container, identity.caller(container, args), Action.WITHDRAW, args.reference
        )
        withdraw(container, args.reference, args.reason, actor)
    except (DossierNotFound, CannotWithdraw) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"withdrawn {args.reference}: {args.reason}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    container = current_container()
    try:
        view = load_view(container, args.reference)
    except DossierNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    timeline = events(container, args.reference)
    _warn_if_calendar_unknown(container, view.due_at, *(s.due_at for s in view.steps))
    if args.json:
        print(
            json.dumps(
                {"dossier": asdict(view), "events": timeline},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    print(
        f"{view.reference}  {view.chain}  {view.status.value}  commune {view.commune_code}"
        f"  due {view.due_at or '-'}"
    )
    for s in view.steps:
        extra = s.reason or ""
        if s.missing_items:
            extra += " missing: " + "; ".join(s.missing_items)
        print(
            f"  {s.position + 1}. {s.kind.value:<24}{s.agency.value:<18}{s.status.value:<21}"
            f"attempts={s.attempts} ref={s.agency_reference or '-'} {extra}"
        )
    print("timeline:")
    for e in timeline:
        change = f"{e['before'] or ''}->{e['after'] or ''}" if e["after"] else ""
        print(
            f"  {e['at']}  {e['actor']:<10} {e['action']:<22} {e['step'] or '':<24} {change}"
            f"  {e['reason'] or ''}"
        )
    if view.status == DossierStatus.REJECTED:
        return EXIT_INVALID
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    submit = subparsers.add_parser(
        "submit", help="validate and store dossiers, then run their chains"
    )
    submit.add_argument("files", nargs="+", metavar="FILE.json")
    submit.add_argument(
        "--deploy",
        action="store_true",
        help="hand the chains to their deployments (workers) instead of "
        "running them in this process",
    )
    submit.add_argument("--no-run", action="store_true", help="store only; run later")
    identity.add_identity_argument(submit)
    submit.set_defaults(func=needs_database(_submit))

    run = subparsers.add_parser(
        "run",
        help="resume dossiers at their first unfinished step (a paused run is resumed, "
        "never doubled)",
    )
    run.add_argument("references", nargs="+", metavar="REF")
    run.add_argument("--deploy", action="store_true", help="run through the deployments")
    run.set_defaults(func=needs_database(_run))

    supplement = subparsers.add_parser(
        "supplement", help="record an applicant's supplement and resume the chain"
    )
    supplement.add_argument("reference", metavar="REF")
    supplement.add_argument(
        "file", metavar="FILE.json", help='the corrected sections, e.g. {"residence": {...}}'
    )
    supplement.add_argument("--no-run", action="store_true")
    supplement.add_argument("--deploy", action="store_true")
    identity.add_identity_argument(supplement)
    supplement.set_defaults(func=needs_database(_supplement))

    withdrawal = subparsers.add_parser(
        "withdraw", help="the applicant withdraws a dossier: its undecided steps stop"
    )
    withdrawal.add_argument("reference", metavar="REF")
    withdrawal.add_argument("--reason", required=True, help="recorded in the audit trail")
    identity.add_identity_argument(withdrawal)
    withdrawal.set_defaults(func=needs_database(_withdraw))

    status = subparsers.add_parser("status", help="a dossier's steps and timeline")
    status.add_argument("reference", metavar="REF")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=needs_database(_status))
