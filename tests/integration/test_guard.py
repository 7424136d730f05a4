"""The per-dossier lease on the real databases: one conditional UPDATE, so runs racing for a
dossier on their own connections cannot both win. What the lease means to a run (renewals,
waiting, a lost lease stopping it) is tested on the fake unit of work
(tests/unit/test_lease_service.py)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lienthong.models.clock import ManualClock
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.leases import acquire_lease, release_lease, renew_lease
from lienthong.services.ledger import Actor
from tests.helpers import example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RUNS = 6


def _race(container: Container, reference: str, owners: list[str]) -> dict[str, bool]:
    """Every owner asks for the lease at the same moment, each on its own connection."""
    start = threading.Barrier(len(owners))
    taken: dict[str, bool] = {}
    errors: list[BaseException] = []

    def take(owner: str) -> None:
        try:
            start.wait()
            taken[owner] = acquire_lease(container, reference, owner)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return taken


def test_runs_racing_for_a_dossier_s_lease_get_it_once(container: Container) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, tzinfo=HCM))
    app = dataclasses.replace(container, clock=clock)
    reference = receive(app, example("birth-valid"), Actor("op")).reference
    owners = [f"run-{n}" for n in range(RUNS)]

    taken = _race(app, reference, owners)

    [winner] = [owner for owner, won in taken.items() if won]
    assert len(taken) == RUNS
    # Only the winner renews it; once its lease lapsed, exactly one other run takes it over.
    assert acquire_lease(app, reference, winner)
    clock.advance(timedelta(seconds=app.settings.lease_seconds, microseconds=1))
    others = [owner for owner in owners if owner != winner]
    [successor] = [owner for owner, won in _race(app, reference, others).items() if won]
    assert not acquire_lease(app, reference, winner)

    assert not renew_lease(app, reference, winner), "renewing never takes a lease"
    assert renew_lease(app, reference, successor)

    release_lease(app, reference, successor)
    assert not renew_lease(app, reference, successor), "nor takes a released one back"
    assert acquire_lease(app, reference, winner)
