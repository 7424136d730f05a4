"""The ``lienthong`` command: one sub-command module per job, each with ``register()``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from collections.abc import Sequence

from lienthong.models.masking import PersonalDataFilter

# No network beyond the package registries: Prefect must not try to phone home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lienthong",
        description="Liên thông: the birth and death procedure chains of Project 06.",
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
    args = build_parser().parse_args(argv)
    _configure_logging()
    exit_code: int = args.func(args)
    return exit_code
