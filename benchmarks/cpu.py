"""CPU-seconds used by processes, read from /proc (Linux), for the benchmarks' accounting.

A process tree's CPU is every live process's user+system time plus what its reaped
children used (``cutime``/``cstime``): a flow run's subprocess counts to the ``lienthong
serve`` that started it. PostgreSQL's backends are not our children: they are sampled by
the database named on their process title (``postgres: user db host(port) ...``), and
the server's own processes (checkpointer, WAL writer...) as one shared figure. A sampler
thread reads them every ``interval`` seconds and keeps the highest figure seen per
process, so a backend that exits between samples loses at most one interval.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")
SHARED = "PostgreSQL (its own processes)"


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    own: float  # utime + stime, seconds
    children: float  # cutime + cstime: reaped children, seconds
    title: str


def _read(pid: int) -> ProcStat | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        title = (
            (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) / _TICKS for v in fields[11:15])
    return ProcStat(pid, int(fields[1]), utime + stime, cutime + cstime, title.strip())


def all_processes() -> list[ProcStat]:
    stats = (_read(int(p.name)) for p in PROC.iterdir() if p.name.isdigit())
    return [s for s in stats if s is not None]


def tree_seconds(root: int, processes: Iterable[ProcStat]) -> float:
    """CPU of ``root`` and every live descendant, with the children each has reaped."""
    by_parent: dict[int, list[ProcStat]] = {}
    by_pid: dict[int, ProcStat] = {}
    for proc in processes:
        by_parent.setdefault(proc.ppid, []).append(proc)
        by_pid[proc.pid] = proc
    total, stack = 0.0, [by_pid[root]] if root in by_pid else []
    while stack:
        proc = stack.pop()
        total += proc.own + proc.children
        stack.extend(by_parent.get(proc.pid, []))
    return total


@dataclass
class PostgresSampler:
    """The CPU of PostgreSQL's backends per database, and of its shared processes."""

    databases: dict[str, str]  # label -> database name
    interval: float = 0.25
    _seen: dict[int, tuple[str, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _label(self, title: str) -> str | None:
        """``postgres: 15/main: user db 127.0.0.1(port) state`` is a backend of ``db``;
        ``postgres: 15/main: checkpointer`` is one of the server's own."""
        if not title.startswith("postgres:"):
            return None
        words = title.split()
        if "(" not in title and "[local]" not in words:
            return SHARED
        for label, name in self.databases.items():
            if name in words:
                return label
        return None  # a backend of another database: someone else's work

    def sample(self) -> None:
        for proc in all_processes():
            label = self._label(proc.title)
            if label is not None:
                self._seen[proc.pid] = (label, proc.own)

    def totals(self) -> dict[str, float]:
        self.sample()
        totals: dict[str, float] = dict.fromkeys([*self.databases, SHARED], 0.0)
        for label, seconds in self._seen.values():
            totals[label] += seconds
        return totals

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
