"""``lienthong validate FILE.json [...]``: check dossiers before they enter a chain.

Output, one block per file::

    examples/birth-valid.json: OK HT-2026-000123 (birth)
      late filing: received 75 days after the birth; ...
    examples/invalid/future-date.json: INVALID (2 problems)
      child.date_of_birth: 2026-12-01 is in the future: ...

A ``received_at`` later than the current time (beyond 5 minutes of clock skew) is a problem,
and so is anything beyond the ``limits`` settings (file size, text length, nesting): a file
larger than ``LIENTHONG_LIMITS__MAX_DOSSIER_BYTES`` is not read past it.
Exit status 1 if any file is invalid or unreadable, 0 otherwise.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from lienthong.adapters.dossier_files import DossierFileError, load_dossier_file
from lienthong.adapters.system_clock import SystemClock
from lienthong.models.validation import DossierInvalid, parse_dossier
from lienthong.settings import LimitSettings, Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check dossier JSON files and list every problem",
        description="Validate dossier files; exit status 1 if any is invalid.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.json")
    parser.set_defaults(func=run)


def check_file(
    path: Path, now: datetime | None = None, limits: LimitSettings | None = None
) -> tuple[bool, list[str]]:
    """Whether ``path`` holds a valid dossier, and the lines that report on it.

    ``received_at`` must not be later than ``now`` (default: the current time); ``limits``
    default to the settings'.
    """
    limits = limits or Settings().limits
    try:
        raw = load_dossier_file(path, limits)
        dossier = parse_dossier(raw, now=now or SystemClock().now(), limits=limits)
    except DossierFileError as exc:
        return False, [f"{path}: UNREADABLE", f"  {exc}"]
    except DossierInvalid as exc:
        count = len(exc.problems)
        header = f"{path}: INVALID ({count} problem{'s' if count != 1 else ''})"
        return False, [header, *(f"  {p.path}: {p.message}" for p in exc.problems)]
    lines = [f"{path}: OK {dossier.reference} ({dossier.chain.value})"]
    if dossier.late_filing_reason:
        lines.append(f"  late filing: {dossier.late_filing_reason}")
    return True, lines


def run(args: argparse.Namespace) -> int:
    all_valid = True
    now = SystemClock().now()
    limits = Settings().limits
    for path in args.files:
        valid, lines = check_file(path, now, limits)
        all_valid = all_valid and valid
        print("\n".join(lines))
    return 0 if all_valid else 1
