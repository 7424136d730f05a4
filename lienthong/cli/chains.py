"""Operator commands: submit dossiers, follow them, resume them, supplement them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from lienthong.adapters.dossier_files import DossierFileError, load_dossier_file
from lienthong.bootstrap import current_container, run_async
from lienthong.cli import identity
from lienthong.cli.database import needs_database
from lienthong.models.clients import Action
from lienthong.models.lifecycle import CannotWithdraw, DossierNotFound
from lienthong.models.status import STOPPED_STEP_STATUSES, DossierStatus, StepKind, StepStatus
from lienthong.models.supplements import SupplementNotAllowed
from lienthong.models.validation import DossierInvalid
from lienthong.models.wording import Language, action_word, day_time, say, word
from lienthong.services.calendar_gaps import swaps_missing_warning, years_without_swaps
from lienthong.services.container import Container
from lienthong.services.intake import DuplicateReference, IntakeResult, receive
from lienthong.services.ledger import Actor
from lienthong.services.supplements import NotAwaitingSupplement, record_supplement
from lienthong.services.views import DossierView, Waiting, events, load_view, waiting_of
from lienthong.services.withdrawal import withdraw

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_STEP_FAILED = 3


def _language() -> Language:
    language: Language = current_container().settings.language
    return language


def announce_action(reference: str, action: str, actor: Actor) -> None:
    """Tell Prefect of an action taken outside a run (flows/announce.py: its event, the
    artifacts republished); one warning line if it cannot be told."""
    from lienthong.flows.announce import Action, announce  # Prefect: imported when used

    reason = run_async(announce(current_container(), reference, Action(action), actor.id))
    if reason is not None:
        print(say("prefect_not_updated", _language(), reason=reason), file=sys.stderr)


def _print_intake(result: IntakeResult, path: str) -> None:
    language = _language()
    if result.accepted:
        chain = word(result.chain, language) if result.chain else "-"
        note = (
            say("late_filing", language, reason=result.late_filing_reason)
            if result.late_filing_reason
            else ""
        )
        again = say("resubmitted", language) if result.resubmitted else ""
        print(say("received", language, reference=result.reference, chain=chain) + note + again)
        return
    print(say("rejected", language, reference=result.reference, path=path))
    for problem in result.problems:
        print(f"  {problem.path}: {problem.message}")


def _run_and_report(references: list[str], deploy: bool) -> int:
    from lienthong.flows.runner import hand_to_deployment, run_here, runnable

    entries = runnable(current_container(), references)
    if deploy:

        async def hand_all() -> None:
            for reference, chain, tags in entries:
                flow_run = await hand_to_deployment(reference, chain, tags)
                print(say("queued", _language(), reference=reference, run=flow_run.id))

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
    language = _language()
    steps = "; ".join(f"{word(s.kind, language)}: {word(s.status, language)}" for s in view.steps)
    return f"{word(view.status, language)}  {view.reference} — {steps}"


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
        _print_intake(result, path)
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
                what = waiting.message(_language())
                print(
                    "error: "
                    + say(
                        "waiting_refused",
                        _language(),
                        reference=reference,
                        what=what,
                        run=paused.name,
                        when=_what_resumes(waiting),
                    ),
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
        return say("resumes_on_supplement", _language(), reference=waiting.reference)
    return say("resumes_on_decision", _language())


def _supplement(args: argparse.Namespace) -> int:
    container = current_container()
    try:
        supplement = load_dossier_file(args.file, container.settings.limits)
        actor = identity.acting_on_record(
            container, identity.caller(container, args), Action.SUPPLEMENT, args.reference
        )
        step = record_supplement(container, args.reference, supplement, actor)
    except DossierInvalid as invalid:
        print(say("supplement_refused", _language(), reference=args.reference), file=sys.stderr)
        for problem in invalid.problems:
            print(f"  {problem.path}: {problem.message}", file=sys.stderr)
        return EXIT_INVALID
    except (DossierNotFound, NotAwaitingSupplement, SupplementNotAllowed, DossierFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    language = _language()
    print(
        say(
            "supplement_recorded",
            language,
            reference=args.reference,
            step=word(StepKind(step), language),
        )
    )
    if args.no_run:
        announce_action(args.reference, "supplemented", actor)
        print(say("supplement_parked", language, reference=args.reference))
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
    print(say("withdrawn", _language(), reference=args.reference, reason=args.reason))
    announce_action(args.reference, "withdrawn", actor)
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
    _print_status(view, timeline, waiting_of(container, args.reference))
    if view.status == DossierStatus.REJECTED:
        return EXIT_INVALID
    return EXIT_OK


def _status_word(value: str | None, step: bool) -> str:
    """A status code of the audit trail, in words (a step's or the dossier's)."""
    if value is None:
        return ""
    kinds: tuple[type[StepStatus] | type[DossierStatus], ...] = (
        (StepStatus, DossierStatus) if step else (DossierStatus, StepStatus)
    )
    for kind in kinds:
        if value in {m.value for m in kind}:
            return word(kind(value), _language())
    return value


def _print_status(
    view: DossierView, timeline: list[dict[str, Any]], waiting: Waiting | None
) -> None:
    language = _language()
    chain = word(view.chain, language) if view.chain else "-"
    print(say("dossier_title", language, reference=view.reference, chain=chain))
    print(
        say(
            "dossier_state",
            language,
            status=word(view.status, language),
            lateness=word(view.timeliness, language),
            commune=view.commune_code,
            due=day_time(view.due_at),
        )
    )
    if waiting is not None:  # what it waits for, and until when (the supplement's 7 days)
        print(say("waiting_now", language, what=waiting.message(language)))
    if view.handed_back_at:
        print(say("handed_back_at", language, at=day_time(view.handed_back_at)))
    for s in view.steps:
        extra = f" — {s.reason}" if s.reason else ""
        if s.missing_items:
            extra += " — " + say("missing", language, items="; ".join(s.missing_items))
        print(
            say(
                "step_line",
                language,
                position=s.position + 1,
                step=word(s.kind, language),
                agency=word(s.agency, language),
                status=word(s.status, language),
                lateness=word(s.timeliness, language),
                due=day_time(s.due_at),
                attempts=s.attempts,
                agency_reference=s.agency_reference or "-",
            )
            + extra
        )
    print(say("timeline", language))
    for e in timeline:
        step = e["step"] is not None
        change = ""
        if e["after"]:
            before = _status_word(e["before"], step)
            change = (
                f"{before} → {_status_word(e['after'], step)}"
                if before
                else ("→ " + _status_word(e["after"], step))
            )
        action = action_word(e["action"], language)
        what = f"{action} {word(StepKind(e['step']), language)}:" if step else f"{action}:"
        print(
            f"  {day_time(e['at'])}  {e['actor']:<10} {what} {change}  {e['reason'] or ''}".rstrip()
        )


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
