"""Database errors leave a Prefect task without their text: transient ones are retried and
end ``failed`` (the sweep resumes them), the rest are ``error``."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from lienthong.adapters.database import (
    DatabaseFault,
    DatabaseUnavailable,
    database_error,
    database_errors_scrubbed,
)
from lienthong.models.status import StepStatus
from lienthong.services.step_outcomes import outcome_of

PERSONAL_ID = "058326000001"
STATEMENT = "UPDATE steps SET result=%(result)s WHERE steps.id = %(id)s"
PARAMS = {"result": f'{{"personal_id": "{PERSONAL_ID}"}}', "id": 1}


class DriverError(Exception):
    """Stands in for psycopg2's exception classes."""


def _sqlalchemy_error(kind: type[sa_exc.DBAPIError], invalidated: bool = False) -> Exception:
    error = kind(STATEMENT, PARAMS, DriverError(f"DETAIL: Key (personal_id)=({PERSONAL_ID})"))
    error.connection_invalidated = invalidated
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_sqlalchemy_error(sa_exc.OperationalError), DatabaseUnavailable),
        (_sqlalchemy_error(sa_exc.InterfaceError), DatabaseUnavailable),
        (_sqlalchemy_error(sa_exc.DatabaseError, invalidated=True), DatabaseUnavailable),
        (sa_exc.TimeoutError(f"QueuePool limit reached ({PERSONAL_ID})"), DatabaseUnavailable),
        (_sqlalchemy_error(sa_exc.IntegrityError), DatabaseFault),
        (_sqlalchemy_error(sa_exc.ProgrammingError), DatabaseFault),
    ],
)
def test_each_error_is_classified_and_keeps_no_text(
    error: sa_exc.SQLAlchemyError, expected: type[Exception]
) -> None:
    assert PERSONAL_ID in str(error)  # what SQLAlchemy would have shown

    translated = database_error(error)

    assert type(translated) is expected
    assert PERSONAL_ID not in str(translated)
    assert "UPDATE" not in str(translated)


def test_the_boundary_raises_without_the_original_as_context() -> None:
    with pytest.raises(DatabaseUnavailable) as raised, database_errors_scrubbed():
        raise _sqlalchemy_error(sa_exc.OperationalError, invalidated=True)

    assert str(raised.value) == "database unavailable (DriverError)"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_lost_database_after_every_retry_leaves_the_step_failed_for_the_sweep() -> None:
    outcome = outcome_of(DatabaseUnavailable("database unavailable (OperationalError)"))

    assert outcome.status == StepStatus.FAILED
    assert outcome.reason == "database unavailable (OperationalError), retries exhausted"


def test_any_other_database_error_is_an_error_for_a_person() -> None:
    outcome = outcome_of(DatabaseFault("database error (UniqueViolation)"))

    assert outcome.status == StepStatus.ERROR
    assert outcome.reason == "database error (UniqueViolation)"
