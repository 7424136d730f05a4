"""``lienthong demo``: run the sample dossiers through both chains, locally."""

from __future__ import annotations

import argparse
from pathlib import Path

from lienthong.settings import Settings


def _demo(args: argparse.Namespace) -> int:
    from lienthong.demo import run_demo

    return run_demo(Path(args.examples_root), Settings(), keep=args.keep)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="start the simulator and an embedded Prefect, run sample dossiers, print a summary",
    )
    demo.add_argument(
        "--examples-root",
        default=".",
        help="folder holding examples/demo (default: the current directory)",
    )
    demo.add_argument("--keep", action="store_true", help="keep the previous demo database")
    demo.set_defaults(func=_demo)
