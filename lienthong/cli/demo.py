"""``lienthong demo``: run the sample dossiers through both chains, locally."""

from __future__ import annotations

import argparse
from pathlib import Path

from lienthong.settings import Settings


def _demo(args: argparse.Namespace) -> int:
    from lienthong.demo import PACKAGED_EXAMPLES_ROOT, run_demo

    root = PACKAGED_EXAMPLES_ROOT if args.examples_root is None else Path(args.examples_root)
    return run_demo(root, Settings(), keep=args.keep)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="start the simulator and an embedded Prefect, run sample dossiers, print a summary",
    )
    demo.add_argument(
        "--examples-root",
        default=None,
        help="folder holding examples/demo (default: the samples shipped with the package)",
    )
    demo.add_argument("--keep", action="store_true", help="keep the previous demo database")
    demo.set_defaults(func=_demo)
