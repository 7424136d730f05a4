"""The ``lienthong`` command: one sub-command module per job, each with ``register()``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from lienthong.cli import failures
from lienthong.models.masking import PersonalDataFilter

# No network beyond the package registries: Prefect must not try to phone home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Artifacts published outside a flow (flows/announce.py) run as tasks without a flow run.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

COMMAND_MODULES = (
    "validate",
    "database",
    "audit",
    "simulator",
    "chains",
    "worklist",
    "demo",
    "serve",
    "automations",
    "api",
    "clients",
    "sweep",
    "report",
    "duplicates",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lienthong",
        description="Liên thông: the birth and death procedure chains of Project 06.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on failure, print the traceback rather than one line",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"lienthong.cli.{name}").register(subparsers)
    return parser


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # One line per HTTP request, or per schema check, drowns what the operator needs to see.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a failure is one line on stderr and an exit code (cli/failures.py)."""
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        exit_code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the handler, not at exit
    except (Exception, KeyboardInterrupt) as exc:
        if args.debug:
            raise
        return failures.report(exc)
    return exit_code
