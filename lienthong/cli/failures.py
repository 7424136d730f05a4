"""What the ``lienthong`` command prints when a command fails: one clear line and its exit
code (README.md, "Exit codes"); ``lienthong --debug COMMAND`` prints the traceback instead.

The operator's failures are named and say what to do: the Prefect API unreachable, the
database unreachable, the output closed early (``lienthong status REF | head``). Anything
else is our bug: its type and first line, and ``--debug`` for the rest.
"""

from __future__ import annotations

import os
import sys

import httpx
from sqlalchemy.exc import DBAPIError

from lienthong.adapters.database import DatabaseUnavailable
from lienthong.cli.database import shown_url
from lienthong.models.masking import scrub
from lienthong.settings import Settings

EXIT_DATABASE = 2
EXIT_PREFECT = 4
EXIT_INTERNAL = 5
EXIT_INTERRUPTED = 130
# As a shell reports a process killed by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


def _prefect_url() -> str:
    from prefect.settings import PREFECT_API_URL  # Prefect: imported when it failed

    return PREFECT_API_URL.value() or "(ephemeral)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return scrub(text[0]) if text else type(exc).__name__


def _prefect_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    # Prefect's client wraps a connection failure: "Failed to reach API at …".
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed to reach API")


def explain(exc: BaseException) -> tuple[str, int]:
    """One line saying what failed and the one command (or setting) that fixes it."""
    if isinstance(exc, DBAPIError | DatabaseUnavailable):
        url = shown_url(Settings().resolved_database_url())
        cause = _first_line(exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc)
        return (
            f"error: the database {url} cannot be reached ({cause}): start it, or set "
            "LIENTHONG_DATABASE_URL",
            EXIT_DATABASE,
        )
    if _prefect_unreachable(exc):
        return (
            f"error: the Prefect API {_prefect_url()} cannot be reached ({_first_line(exc)}): "
            "start it (`prefect server start`), or set PREFECT_API_URL",
            EXIT_PREFECT,
        )
    return (
        f"error: {type(exc).__name__}: {_first_line(exc)} (`lienthong --debug …` shows the "
        "traceback)",
        EXIT_INTERNAL,
    )


def quiet_broken_pipe() -> int:
    """The reader closed the pipe (``| head``): stop writing, without a second error when
    Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def report(exc: BaseException) -> int:
    """Print ``exc`` as one line on stderr; the exit code."""
    if isinstance(exc, BrokenPipeError):
        return quiet_broken_pipe()
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    message, code = explain(exc)
    print(message, file=sys.stderr)
    return code
