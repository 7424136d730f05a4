"""The audit trail protects the record's current state: a row changed behind the services'
back (no event touched) is found by `lienthong audit verify`, on both backends, and the
audit table refuses UPDATE and DELETE on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from lienthong.cli import main
from lienthong.models.status import StepKind
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from tests.helpers import example, request_supplement_at

OPERATOR = Actor("operator-1")


@pytest.fixture
def configured(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`lienthong` commands in this test use the test database (and no .env file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    return database_url


def _awaiting_residence(container: Container) -> str:
    """A birth dossier whose registration succeeded and whose residence step awaits a
    supplement, all through the services (so every change is audited)."""
    result = receive(container, example("birth-valid"), OPERATOR)
    assert result.accepted, result.problems
    request_supplement_at(container, result.reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    return result.reference


def test_a_forged_success_written_straight_into_the_rows_is_reported_by_reference(
    container: Container,
    engine: Engine,
    configured: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = _awaiting_residence(container)
    assert main(["audit", "verify", "--no-published-anchor"]) == 0
    capsys.readouterr()

    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE steps SET status = 'succeeded', agency_reference = 'CA-FORGED-1'"
                " WHERE kind IN ('residence_registration', 'child_health_card')"
            )
        )
        connection.execute(text("UPDATE dossiers SET status = 'completed'"))

    assert main(["audit", "verify", "--no-published-anchor"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("audit trail and record DIFFER: 5 differences")
    assert printed[1:] == [
        f"  {reference}: dossier completed in the record, awaiting_supplement by its events",
        f"  {reference}: step child_health_card succeeded in the record, pending by its events",
        f"  {reference}: step child_health_card agency reference CA-FORGED-1 in the record, "
        "None by its events",
        f"  {reference}: step residence_registration succeeded in the record, "
        "awaiting_supplement by its events",
        f"  {reference}: step residence_registration agency reference CA-FORGED-1 in the "
        "record, None by its events",
    ]
    assert verify(container).first_break is None, "no event was touched: the chain holds"


def test_rows_without_events_and_events_without_rows_are_both_reported(
    container: Container, engine: Engine
) -> None:
    reference = _awaiting_residence(container)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dossiers SET reference = 'HT-2026-999999'"))

    mismatches = verify(container).mismatches

    assert [(m.reference, m.problem) for m in mismatches] == [
        ("HT-2026-999999", "the record has it, no event does"),
        (reference, "its events say it exists, the record has no such dossier"),
    ]


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE audit_events SET actor = 'intruder'", "UPDATE"),
        ("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)", "DELETE"),
        ("DELETE FROM audit_events", "DELETE"),
    ],
    ids=["update", "delete-newest", "delete-all"],
)
def test_the_audit_table_is_append_only_on_both_backends(
    container: Container, engine: Engine, statement: str, operation: str
) -> None:
    _awaiting_residence(container)
    before = verify(container)

    with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only") as err:
        connection.execute(text(statement))
    assert operation in str(err.value)

    after = verify(container)
    assert after.intact
    assert (after.checked, after.head) == (before.checked, before.head)
