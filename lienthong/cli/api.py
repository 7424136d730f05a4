"""``lienthong api``: serve our HTTP API (the /v1 dossier API, agencies' decision callbacks)
with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve our HTTP API: dossiers in, status out, agencies' decisions in",
        description=(
            "Serve the dossier API (/v1: submit, status, supplement, withdraw, hospitals' "
            "notifications; callers authenticate with credentials from `lienthong clients`; "
            "OpenAPI at /docs) and receive agencies' decision callbacks, Standard Webhooks "
            "signed with each agency's secret (POST /agency-decisions/<agency>), "
            "record them and resume the dossiers' chains; poll agencies for decisions whose "
            "callbacks are overdue. Address: LIENTHONG_API__HOST / LIENTHONG_API__PORT."
        ),
    )
    parser.add_argument("--host", help="bind address (default: LIENTHONG_API__HOST)")
    parser.add_argument("--port", type=int, help="port (default: LIENTHONG_API__PORT)")
    parser.add_argument(
        "--here",
        action="store_true",
        help="continue decided chains in this process instead of the deployments",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from lienthong.api import create_app
    from lienthong.bootstrap import build_container, use_container
    from lienthong.settings import Settings

    settings = Settings()
    if args.here:
        api = settings.api.model_copy(update={"run_chains_with_deployments": False})
        settings = settings.model_copy(update={"api": api})
    container = build_container(settings)
    with use_container(container):
        uvicorn.run(
            create_app(container),
            host=args.host or settings.api.host,
            port=settings.api.port if args.port is None else args.port,
            log_level=args.log_level,
        )
    container.close()
    return 0
