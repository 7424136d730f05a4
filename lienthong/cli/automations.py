"""``lienthong automations``: the Prefect automations the production setup relies on."""

from __future__ import annotations

import argparse
import asyncio


def _apply(args: argparse.Namespace) -> int:
    from lienthong.deployments.crash_detection import (
        AUTOMATION_NAME,
        MISSED_HEARTBEATS,
        apply_crash_detection,
        heartbeat_seconds,
    )

    automation_id = asyncio.run(apply_crash_detection())
    window = MISSED_HEARTBEATS * heartbeat_seconds()
    print(
        f"automation {AUTOMATION_NAME!r} ({automation_id}): flow runs without a heartbeat "
        f"for {window} s are marked Crashed"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    automations = subparsers.add_parser(
        "automations",
        help="create or update the crashed-run detection automation (idempotent)",
        description=(
            "Creates, or updates in place, the Prefect automation that marks flow runs "
            "Crashed when their heartbeats stop (PREFECT_FLOWS_HEARTBEAT_FREQUENCY). "
            "`lienthong serve` does the same at every start."
        ),
    )
    automations.set_defaults(func=_apply)
