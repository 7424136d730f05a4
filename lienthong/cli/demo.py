"""``lienthong demo``: run the sample dossiers through both chains, locally."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from lienthong.settings import Settings

# Settings that would point Prefect at the operator's server or database.
OPERATOR_PREFECT_SETTINGS = (
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_PROFILES_PATH",
    "PREFECT_PROFILE",
)


# Set in the demo's own process, once it is isolated.
ISOLATED = "LIENTHONG_DEMO_ISOLATED"


def isolated_environment(home: Path) -> dict[str, str]:
    """The demo's environment: its own Prefect (a temporary server on a SQLite file under
    ``home``), never the operator's server (PREFECT_API_URL) or database (~/.prefect), so
    demo runs and real runs of the same reference never mix."""
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_PREFECT_SETTINGS}
    # A fresh server creates its database first: on a busy machine that outlasts
    # Prefect's 20 s default, and the demo would fail before it began.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    return {**env, "PREFECT_HOME": str(home.resolve()), ISOLATED: "1"}


def _demo(args: argparse.Namespace) -> int:
    settings = Settings()
    home = settings.data_dir / "demo-prefect"
    if os.environ.get(ISOLATED) != "1":
        # Prefect reads its settings when first imported (the CLI has imported it): the
        # demo runs in a fresh process with the isolated environment.
        if home.exists() and not args.keep:
            shutil.rmtree(home)  # as the demo's database: each demo starts afresh
        home.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "lienthong", *(["--debug"] if args.debug else []), "demo"]
        if args.examples_root is not None:
            argv += ["--examples-root", str(args.examples_root)]
        if args.keep:
            argv.append("--keep")
        sys.stdout.flush()
        os.execve(sys.executable, argv, isolated_environment(home))
    from lienthong.demo import PACKAGED_EXAMPLES_ROOT, run_demo

    root = PACKAGED_EXAMPLES_ROOT if args.examples_root is None else Path(args.examples_root)
    exit_code = run_demo(root, settings, keep=args.keep)
    print(f"the demo's own Prefect runs: PREFECT_HOME={home.resolve()} prefect server start")
    return exit_code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="start the simulator and its own embedded Prefect (never the operator's server "
        "or database), run sample dossiers, print a summary",
    )
    demo.add_argument(
        "--examples-root",
        default=None,
        help="folder holding examples/demo (default: the samples shipped with the package)",
    )
    demo.add_argument("--keep", action="store_true", help="keep the previous demo database")
    demo.set_defaults(func=_demo)
