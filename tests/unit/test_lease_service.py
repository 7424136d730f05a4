"""The per-dossier lease as the services and the chain run see it, on the fake unit of work:
one holder at a time, renewed by its holder, lapsing after ``lease_seconds``, released after
use; a lost lease stops the run rather than letting two runs call agencies for one dossier.

That the SQL lease is one atomic conditional UPDATE is tested on the real databases
(tests/integration/test_guard.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lienthong.adapters.database import DatabaseUnavailable
from lienthong.adapters.system_clock import SystemClock
from lienthong.flows.lease import DossierBusy, LeaseLost, dossier_lease
from lienthong.models.clock import ManualClock
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.leases import acquire_lease, release_lease, renew_lease
from lienthong.services.ledger import Actor
from tests.fakes import FakeStore, Lease, fake_container
from tests.helpers import example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def _stored(container: Container) -> str:
    result = receive(container, example("birth-valid"), Actor("op"))
    assert result.accepted
    return result.reference


def _owner(store: FakeStore, reference: str) -> str | None:
    lease = store.leases.get(reference)
    return lease.owner if lease else None


def _clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=HCM))


def test_one_holder_at_a_time_renewed_by_its_holder_and_lapsing_after_its_ttl() -> None:
    clock = _clock()
    container, store = fake_container(clock=clock)
    reference = _stored(container)
    ttl = timedelta(seconds=container.settings.lease_seconds)

    assert acquire_lease(container, reference, "run-1")
    assert store.leases[reference] == Lease("run-1", clock.now() + ttl)
    assert not acquire_lease(container, reference, "run-2")
    # Its holder renews it: the lease now runs from the renewal.
    clock.advance(ttl / 2)
    assert not renew_lease(container, reference, "run-2")
    assert renew_lease(container, reference, "run-1")
    assert store.leases[reference] == Lease("run-1", clock.now() + ttl)
    # Still live at its very expiry instant...
    clock.advance(ttl)
    assert not acquire_lease(container, reference, "run-2")
    # ...and free for another once it lapsed.
    clock.advance(timedelta(microseconds=1))
    assert acquire_lease(container, reference, "run-2")
    assert _owner(store, reference) == "run-2"


def test_only_the_holder_releases_a_lease() -> None:
    container, store = fake_container(clock=_clock())
    reference = _stored(container)
    assert acquire_lease(container, reference, "run-1")

    release_lease(container, reference, "run-2")
    assert _owner(store, reference) == "run-1"
    assert not acquire_lease(container, reference, "run-2")

    release_lease(container, reference, "run-1")
    assert _owner(store, reference) is None
    assert acquire_lease(container, reference, "run-2")


def test_a_renewal_after_the_release_does_not_take_the_dossier_back() -> None:
    """The renewer's database call may land after the run released its lease (a cancelled
    await does not stop its thread): the dossier must stay free for the sweep."""
    container, store = fake_container(clock=_clock())
    reference = _stored(container)
    assert acquire_lease(container, reference, "run-1")
    release_lease(container, reference, "run-1")

    assert not renew_lease(container, reference, "run-1")
    assert _owner(store, reference) is None


def test_there_is_no_lease_on_an_unknown_dossier() -> None:
    container, store = fake_container()
    assert not acquire_lease(container, "HT-2026-999999", "run-1")
    assert store.leases == {}


@pytest.fixture
def quick() -> tuple[Container, FakeStore]:
    """Short leases on the system's clock, so that only renewals keep one alive."""
    container, store = fake_container(clock=SystemClock())
    settings = container.settings.model_copy(
        update={"lease_seconds": 0.3, "lease_wait_seconds": 0.5}
    )
    return dataclasses.replace(container, settings=settings), store


async def test_the_lease_is_held_then_released_and_a_second_run_waits(
    quick: tuple[Container, FakeStore],
) -> None:
    container, store = quick
    reference = _stored(container)
    async with dossier_lease(container, reference, "run-1"):
        assert _owner(store, reference) == "run-1"
        await asyncio.sleep(0.5)  # longer than the lease: renewals keep it
        with pytest.raises(DossierBusy, match=f"dossier {reference} is being processed"):
            async with dossier_lease(container, reference, "run-2"):
                pytest.fail("a second run got the lease")
        assert _owner(store, reference) == "run-1"
    assert _owner(store, reference) is None


async def test_a_second_run_gets_the_lease_once_the_first_lets_go(
    quick: tuple[Container, FakeStore],
) -> None:
    container, store = quick
    reference = _stored(container)
    first_done = asyncio.Event()

    async def first() -> None:
        async with dossier_lease(container, reference, "run-1"):
            await asyncio.sleep(0.2)
        first_done.set()

    async def second() -> bool:
        await asyncio.sleep(0.05)
        async with dossier_lease(container, reference, "run-2"):
            return first_done.is_set() and _owner(store, reference) == "run-2"

    _, second_saw = await asyncio.gather(first(), second())
    assert second_saw
    assert _owner(store, reference) is None


async def test_a_lost_lease_cancels_the_run_and_leaves_the_new_holder_alone(
    quick: tuple[Container, FakeStore],
) -> None:
    container, store = quick
    reference = _stored(container)

    async def run_that_loses_its_lease() -> None:
        async with dossier_lease(container, reference, "run-1"):
            # Another run takes the lease, as after this run's lease lapsed.
            store.leases[reference] = Lease("run-2", container.clock.now() + timedelta(hours=1))
            await asyncio.sleep(5)
            pytest.fail("the run went on without its lease")

    with pytest.raises(LeaseLost, match=f"lost the lease on dossier {reference}"):
        await run_that_loses_its_lease()
    assert _owner(store, reference) == "run-2"


class _Outage:
    """Our database unreachable for the lease's writes while ``down`` is set."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0

    def renew(self, container: Container, reference: str, owner: str) -> bool:
        if self.down:
            self.refused += 1
            raise DatabaseUnavailable("OperationalError")
        return renew_lease(container, reference, owner)


async def test_a_database_outage_shorter_than_the_lease_does_not_stop_the_run(
    quick: tuple[Container, FakeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    container, store = quick
    reference = _stored(container)
    outage = _Outage()
    monkeypatch.setattr("lienthong.flows.lease.renew_lease", outage.renew)
    async with dossier_lease(container, reference, "run-1"):
        outage.down = True
        await asyncio.sleep(0.15)  # half the lease: one renewal refused
        outage.down = False
        await asyncio.sleep(0.4)  # renewed since: still the holder
        assert _owner(store, reference) == "run-1"
    assert outage.refused >= 1
    assert _owner(store, reference) is None


async def test_a_database_outage_longer_than_the_lease_loses_it(
    quick: tuple[Container, FakeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    container, _ = quick
    reference = _stored(container)
    outage = _Outage()
    monkeypatch.setattr("lienthong.flows.lease.renew_lease", outage.renew)

    async def run_through_a_long_outage() -> None:
        async with dossier_lease(container, reference, "run-1"):
            outage.down = True
            await asyncio.sleep(5)
            pytest.fail("the run went on without renewing its lease")

    with pytest.raises(LeaseLost):
        await run_through_a_long_outage()
