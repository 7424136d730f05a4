"""Test helpers shared by several modules: the example dossiers, and bringing a stored
dossier to a given state through any container (fake or SQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Connection, text

from lienthong.bootstrap import build_container
from lienthong.cli.identity import CREDENTIAL_ENV
from lienthong.models.clients import Role
from lienthong.models.clock import Clock
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.status import StepKind, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.create_client import create_client
from lienthong.services.ledger import Actor
from lienthong.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def bypass_audit_triggers(connection: Connection) -> None:
    """Do what a tamperer with full access to the database can: silence the triggers that
    keep audit_events append-only, for this transaction (PostgreSQL) or for good (SQLite,
    whose file anyone holding it can rewrite)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        connection.execute(text("DROP TRIGGER audit_events_refuse_update"))
        connection.execute(text("DROP TRIGGER audit_events_refuse_delete"))


def example(name: str) -> dict[str, Any]:
    """The raw data of ``examples/<name>.json`` (e.g. ``demo/HT-2026-001002``)."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def example_with(name: str, reference: str | None = None, **changes: Any) -> dict[str, Any]:
    """``examples/<name>.json`` with another ``reference`` and fields changed, each named
    ``section__field`` (e.g. ``child__full_name="..."``)."""
    raw = example(name)
    if reference is not None:
        raw["reference"] = reference
    for path, value in changes.items():
        section, field = path.split("__")
        raw[section][field] = value
    return raw


def another_child(raw: dict[str, Any], reference: str) -> dict[str, Any]:
    """A birth dossier ``raw`` as another child's under ``reference``: its own certificate
    number and name, so intake does not hold it as a potential duplicate of ``raw``."""
    letters = "".join("abcdefghij"[int(d)] for d in reference if d.isdigit())
    child = dict(raw["child"], full_name=f"{raw['child']['full_name']} {letters.capitalize()}")
    certificate = dict(raw["medical_birth_certificate"], number=f"GCS-{reference}")
    return dict(raw, reference=reference, child=child, medical_birth_certificate=certificate)


def request_supplement_at(
    container: Container, reference: str, waiting: StepKind, actor: Actor
) -> None:
    """Run the dossier's steps in order: earlier ones succeed, ``waiting`` asks for more."""
    now = container.clock.now()
    calendar = container.deadlines.calendar
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        for step in dossier.steps:
            if step.status == StepStatus.SKIPPED:
                continue
            changes = dossier.start_step(step.kind, deadlines=container.deadlines, now=now)
            if step.kind == waiting:
                changes += dossier.finish_step(
                    step.kind,
                    StepStatus.AWAITING_SUPPLEMENT,
                    now=now,
                    reason="missing",
                    missing_items=["missing"],
                )
                ledger.record(uow, dossier, changes, actor, now, calendar)
                break
            changes += dossier.finish_step(
                step.kind, StepStatus.SUCCEEDED, now=now, agency_reference=f"AG-{step.kind.value}"
            )
            ledger.record(uow, dossier, changes, actor, now, calendar)
        else:
            raise AssertionError(f"{reference} has no {waiting} step")
        uow.commit()


ResultT = TypeVar("ResultT")


def immediate(answer: ResultT | AgencyReceipt) -> ResultT:
    """An agency's answer that must be the immediate form (a decision, not a receipt)."""
    assert not isinstance(answer, AgencyReceipt), f"expected a decision, got {answer!r}"
    return answer


def act_as(container: Container, monkeypatch: pytest.MonkeyPatch, role: str = "admin") -> str:
    """Operator commands run as a new client of ``role`` (lienthong/cli/identity.py); its
    actor id on the audit trail."""
    issued = create_client(container, f"cli {role}", Role.parse(role))
    monkeypatch.setenv(CREDENTIAL_ENV, issued.token)
    return issued.client.actor_id


def container_on(database_url: str, clock: Clock, data_dir: Path) -> Container:
    """The application on ``database_url`` and ``clock``, its agencies and receivers answering
    200 to everything (for tests of the record, not of the HTTP)."""
    return build_container(
        Settings(database_url=database_url, data_dir=data_dir),
        clock=clock,
        http_transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
