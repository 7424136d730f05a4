"""A potential duplicate through a real Prefect server and the simulator over HTTP: held at
intake, its run calls no agency; confirmed distinct (twins), its chain runs to the end."""

from __future__ import annotations

import copy

import pytest

from lienthong.flows.continuation import Continued, continue_dossier
from lienthong.models.duplicates import Decision, MatchRule
from lienthong.models.status import DossierStatus
from lienthong.services.container import Container
from lienthong.services.duplicates import held_dossiers, resolve
from lienthong.services.intake import receive
from lienthong.services.views import load_view
from lienthong.simulator.server import SimulatorServer
from tests.e2e.conftest import OPERATOR, fresh_copy, load_example, run, simulator_records, submit

pytestmark = pytest.mark.e2e


def _calls_for(simulator: SimulatorServer, reference: str) -> int:
    return sum(
        1
        for records in simulator_records(simulator).values()
        for record in records
        if record.get("dossier_reference") == reference
    )


async def test_a_held_twin_calls_no_agency_until_confirmed_distinct(
    app: Container, simulator: SimulatorServer
) -> None:
    first = fresh_copy(load_example("birth-valid.json"))
    first["child"]["full_name"] = "Nguyễn Ngọc Bảo An"
    first_reference = submit(app, first)
    assert (await run(app, first_reference))[first_reference].is_completed()

    # Her twin: same mother, same day, a name that differs by a tone mark only, her own
    # certificate. Intake cannot tell her from a second copy of her sister: held.
    twin = copy.deepcopy(fresh_copy(first))
    twin["child"]["full_name"] = "Nguyễn Ngọc Bảo Ân"
    result = receive(app, twin, OPERATOR)
    assert [(m.reference, m.rule) for m in result.held_for] == [
        (first_reference, MatchRule.MOTHER_BIRTH_NAME)
    ]

    states = await run(app, twin["reference"])

    assert states[twin["reference"]].name == "Held"
    assert load_view(app, twin["reference"]).status == DossierStatus.HELD
    assert _calls_for(simulator, twin["reference"]) == 0, "a held dossier reached an agency"
    assert [h.reference for h in held_dossiers(app)] == [twin["reference"]]

    resolve(app, twin["reference"], Decision.DISTINCT, reason="twins", actor=OPERATOR)
    how = await continue_dossier(app, twin["reference"], deploy=False)

    assert how == Continued.STARTED
    assert load_view(app, twin["reference"]).status == DossierStatus.COMPLETED
    assert _calls_for(simulator, twin["reference"]) == 3
    assert held_dossiers(app) == []
