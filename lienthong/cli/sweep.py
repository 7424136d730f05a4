"""``lienthong sweep``: run the overdue sweep once and print what it found and did.

It runs the ``overdue-sweep`` flow in this process, so stuck chains are resumed (and chains
never started are started) here as its subflows. Steps in error are listed under "needs
attention", never resumed: fix the cause, then ``lienthong run REF``.

Exit codes: 0 the sweep ran; 1 it failed (the error is printed).
"""

from __future__ import annotations

import argparse
import sys

from lienthong.bootstrap import run_async
from lienthong.cli.database import needs_database


def _sweep(args: argparse.Namespace) -> int:
    from lienthong.flows.sweep import overdue_sweep  # Prefect: imported only to run it

    try:
        report = run_async(
            overdue_sweep(
                due_soon_working_days=args.due_soon_days,
                stuck_after_minutes=args.stuck_minutes,
                resume=not args.no_resume,
            )
        )
    except Exception as exc:
        print(f"sweep failed: {exc}", file=sys.stderr)
        return 1
    print(f"overdue sweep at {report.at.isoformat()}")
    for line in report.summary_lines():
        print(f"  {line}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="notify overdue steps and chains, refuse lapsed supplementations, resume stuck "
        "runs, start dossiers never started, list steps in error",
    )
    parser.add_argument(
        "--due-soon-days",
        type=int,
        default=1,
        metavar="N",
        help="remind agencies of steps due within N working days (0: today; default 1)",
    )
    parser.add_argument(
        "--stuck-minutes",
        type=float,
        default=15.0,
        metavar="M",
        help="an unleased step in progress untouched for M minutes is stuck, and a dossier "
        "received M minutes ago and never started is started (default 15)",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="report stuck and never-started dossiers without running them",
    )
    parser.set_defaults(func=needs_database(_sweep))
