"""``lienthong serve``: serve every deployment from this one process."""

from __future__ import annotations

import argparse
import asyncio


def _serve(args: argparse.Namespace) -> int:
    from lienthong.deployments.serve import serve_all

    ended = asyncio.run(serve_all(limit=args.limit, chains_only=args.chains_only))
    print(f"lienthong serve: {ended}", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the chain, sweep and report deployments of prefect.yaml from this process",
        description=(
            "Registers the deployments of prefect.yaml and the crashed-run detection "
            "automation, then runs the deployments' flow runs until SIGTERM or SIGINT: the "
            "chains' inside this process (no process per dossier), the scheduled ones "
            "(sweep, report, audit anchor) through Prefect's runner."
        ),
    )
    serve.add_argument(
        "--limit", type=int, default=None, help="at most this many flow runs at once"
    )
    serve.add_argument(
        "--chains-only",
        action="store_true",
        help="one more worker for the chains (scale out): runs chain deployments only",
    )
    serve.set_defaults(func=_serve)
