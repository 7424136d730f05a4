"""The process's container, for code that Prefect calls (tasks, flows).

Prefect tasks take only serialisable parameters (the dossier reference), so they reach the
database, clock and settings through this one process-wide container. It is built lazily
from the environment on first use; tests and ``lienthong demo`` install their own.
"""

from __future__ import annotations

from lienthong.bootstrap import Container, build_container

_installed: Container | None = None


def container() -> Container:
    global _installed
    if _installed is None:
        _installed = build_container()
    return _installed


def install(replacement: Container | None) -> None:
    """Use ``replacement`` from now on (None: build from the environment again on next use)."""
    global _installed
    _installed = replacement
