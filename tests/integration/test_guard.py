"""The per-dossier lease: one holder at a time, released after use, and a lost lease stops
the run rather than letting two runs call agencies for one dossier."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from lienthong.bootstrap import Container
from lienthong.intake import receive
from lienthong.ledger import Actor
from models.tables import Dossier
from tasks.guard import DossierBusy, LeaseLost, dossier_lease

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "birth-valid.json"


@pytest.fixture
def quick(container: Container) -> Container:
    settings = container.settings.model_copy(
        update={"lease_seconds": 0.3, "lease_wait_seconds": 0.5}
    )
    return dataclasses.replace(container, settings=settings)


def _stored(container: Container) -> str:
    raw = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return receive(container, raw, Actor("op")).reference


def _owner(container: Container, reference: str) -> str | None:
    with container.unit_of_work() as uow:
        return uow.dossiers.get(reference).lease_owner


async def test_the_lease_is_held_then_released_and_a_second_run_waits(quick: Container) -> None:
    reference = _stored(quick)
    async with dossier_lease(quick, reference, "run-1"):
        assert _owner(quick, reference) == "run-1"
        await asyncio.sleep(0.5)  # longer than the lease: renewals keep it
        with pytest.raises(DossierBusy):
            async with dossier_lease(quick, reference, "run-2"):
                pytest.fail("a second run got the lease")
    assert _owner(quick, reference) is None


async def test_a_lost_lease_cancels_the_run_and_leaves_the_new_holder_alone(
    quick: Container,
) -> None:
    reference = _stored(quick)

    async def run_that_loses_its_lease() -> None:
        async with dossier_lease(quick, reference, "run-1"):
            _take_over(quick, reference, "run-2")
            await asyncio.sleep(5)
            pytest.fail("the run went on without its lease")

    with pytest.raises(LeaseLost):
        await run_that_loses_its_lease()
    assert _owner(quick, reference) == "run-2"


def _take_over(container: Container, reference: str, owner: str) -> None:
    """Another run takes the lease, as after this run's lease lapsed."""
    with container.unit_of_work() as uow:
        uow.session.execute(
            update(Dossier)
            .where(Dossier.reference == reference)
            .values(lease_owner=owner, lease_expires_at=container.clock.now() + timedelta(hours=1))
        )
        uow.commit()
